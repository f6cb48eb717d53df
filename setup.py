"""Maps the design's folders onto one installed package, ``maskwatch``.

``edge/`` is ``maskwatch`` (the device part and the core training shares), ``train/`` is
``maskwatch.train`` and ``convert/`` is ``maskwatch.convert``. A Raspberry Pi gets only
``edge/`` (``systemd/device-files``), so the workstation packages are included only where
their folders are present. Everything else about the project is in ``pyproject.toml``.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
FOLDERS = {"maskwatch": "edge", "maskwatch.train": "train", "maskwatch.convert": "convert"}


def packages() -> tuple[list[str], dict[str, str]]:
    """Every package under each present folder, with the folder each top one lives in."""
    found, package_dir = [], {}
    for name, folder in FOLDERS.items():
        if not (HERE / folder / "__init__.py").is_file():
            continue
        package_dir[name] = folder
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(HERE / folder)]
    return found, package_dir


PACKAGES, PACKAGE_DIR = packages()
setup(packages=PACKAGES, package_dir=PACKAGE_DIR)
