"""Say why a system package built against another numpy fails to import in the venv.

On Raspberry Pi OS, apt's python3-picamera2 imports python3-simplejpeg, a C extension
built against Debian's numpy. The venv (``--system-site-packages``) puts its own numpy
first; when its major version differs from the one the extension was built for, the
import fails with "numpy.dtype size changed" or a similar ABI message. This names both
numpys and the fix instead of a bare "not importable".
"""

import importlib.metadata
import sys
import traceback
from pathlib import Path

import numpy as np

# What numpy's C API says when an extension meets a numpy with another ABI.
ABI_MESSAGES = (
    "numpy.dtype size changed",
    "binary incompatibility",
    "compiled using NumPy 1.x cannot be run in",
    "numpy.core.multiarray failed to import",
    "numpy._core.multiarray failed to import",
    "_ARRAY_API not found",
    "but this version of numpy is",
)


def is_numpy_abi_error(error: BaseException) -> bool:
    text = str(error)
    return any(message in text for message in ABI_MESSAGES)


def failing_site(error: BaseException) -> Path | None:
    """The sys.path folder holding the package whose import raised ``error``."""
    folders = sorted((Path(p) for p in sys.path if p), key=lambda p: len(p.parts), reverse=True)
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        path = Path(frame.filename)
        if not path.is_file():
            continue  # <frozen importlib._bootstrap> and the like
        for folder in folders:
            if path.is_relative_to(folder):
                return folder
    return None


def numpy_version_in(site: Path) -> str | None:
    """The version of the numpy installed in ``site``, read from its metadata, not imported."""
    for dist in importlib.metadata.distributions(path=[str(site)]):
        if dist.metadata["Name"] == "numpy":
            return dist.version
    return None


def describe(module: str, error: BaseException) -> str:
    """One line: which numpy the venv has, which the failing package's site has, the fix."""
    site = failing_site(error)
    system_numpy = numpy_version_in(site) if site else None
    where = f" in {site}" if site else ""
    system = (
        f"the system has numpy {system_numpy}{where}"
        if system_numpy
        else f"its C extensions{where} were built for another numpy"
    )
    first_line = str(error).strip().splitlines()[0]
    return (
        f"{module} cannot be imported: numpy ABI mismatch ({first_line}); this environment "
        f"({sys.prefix}) has numpy {np.__version__}, {system}. Fix: reinstall with the device "
        "set for this OS release (sudo make install picks it from /etc/os-release: "
        "requirements/device-bookworm.txt keeps numpy 1.x for bookworm's apt packages)"
    )
