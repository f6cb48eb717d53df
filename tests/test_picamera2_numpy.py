"""Raspberry Pi OS bookworm's camera stack under a venv with numpy 2, reproduced on x86.

A "system" folder stands in for /usr/lib/python3/dist-packages: numpy 1.26 and
simplejpeg 1.6.6 (PyPI's wheel, built against numpy 1.x, as apt's python3-simplejpeg is
built against Debian's numpy 1.24), plus a picamera2 stand-in that imports what the real
one imports. A venv sees it after its own packages, as ``--system-site-packages`` does,
and its own numpy is the workstation's 2.x. The real ``maskwatch check`` and ``maskwatch
run`` must then name both numpys and the fix, not just say "not importable".
"""

import re
import site
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CONFIG, ROOT, error_lines

SYSTEM_NUMPY = "1.26.4"
PICAMERA2_STAND_IN = '"""picamera2\'s import chain."""\nimport numpy\nimport simplejpeg\n'


@pytest.fixture(scope="session")
def system_site(tmp_path_factory) -> Path:
    """numpy 1.x, a simplejpeg built against it, and the picamera2 stand-in."""
    folder = tmp_path_factory.mktemp("dist-packages")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--only-binary=:all:", "--target", str(folder), f"numpy=={SYSTEM_NUMPY}",
         "simplejpeg==1.6.6"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (folder / "picamera2").mkdir()
    (folder / "picamera2" / "__init__.py").write_text(PICAMERA2_STAND_IN)
    return folder


@pytest.fixture(scope="session")
def numpy2_venv(tmp_path_factory, system_site) -> Path:
    """A venv whose own packages are this test environment's (numpy 2), then the system's."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    packages = next(venv.glob("lib/python3*/site-packages"))
    own = site.getsitepackages()[0]
    (packages / "system-site.pth").write_text(
        f"import site; site.addsitedir({own!r}); site.addsitedir({str(system_site)!r})\n"
    )
    return venv


PICAMERA2 = ("--set", "source.kind=picamera2", "--set", "source.width=640",
             "--set", "source.height=480")  # fmt: skip


def run_in(venv: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv / "bin/python"), *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_the_stand_in_imports_under_the_numpy_it_was_built_for(system_site):
    result = subprocess.run(
        [sys.executable, "-c", "import numpy, picamera2, simplejpeg; print(numpy.__version__)"],
        env={"PYTHONPATH": str(system_site)}, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == SYSTEM_NUMPY


def test_under_numpy_2_the_import_fails_as_on_bookworm(numpy2_venv):
    result = run_in(numpy2_venv, "-c", "import numpy; print(numpy.__version__); import simplejpeg")
    assert result.stdout.strip() == np.__version__ and np.__version__.startswith("2.")
    assert "numpy.dtype size changed" in result.stderr


def expected_diagnosis(venv: Path, system_site: Path) -> re.Pattern:
    """The one line: numpy's own message, then both numpys and the fix."""
    return re.compile(
        re.escape("source.kind picamera2: picamera2 cannot be imported: numpy ABI mismatch "
                  "(numpy.dtype size changed, may indicate binary incompatibility.")
        + r"[^;]*"
        + re.escape(f"); this environment ({venv}) has numpy {np.__version__}, the system has "
                    f"numpy {SYSTEM_NUMPY} in {system_site}. Fix: reinstall with the device set "
                    "for this OS release (sudo make install picks it from /etc/os-release: "
                    "requirements/device-bookworm.txt keeps numpy 1.x for bookworm's apt "
                    "packages)")
    )  # fmt: skip


def test_maskwatch_check_names_both_numpys_and_the_fix(numpy2_venv, system_site):
    result = run_in(numpy2_venv, "-m", "maskwatch", "check", "--config", str(CONFIG),
                    *PICAMERA2, "--set", "mqtt.port=9")  # fmt: skip
    assert result.returncode == 1, result.stderr
    source = [line for line in result.stdout.splitlines() if line.startswith("source:")]
    assert len(source) == 1, result.stdout
    assert expected_diagnosis(numpy2_venv, system_site).fullmatch(
        source[0].removeprefix("source: FAIL, ")
    ), source[0]


def test_the_daemon_stops_with_the_diagnosis_and_exit_78(numpy2_venv, system_site, tmp_path):
    result = run_in(numpy2_venv, "-m", "maskwatch", "run", "--config", str(CONFIG),
                    *PICAMERA2, "--set", f"queue.path={tmp_path / 'q.sqlite3'}")  # fmt: skip
    assert result.returncode == 78, result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    pattern = expected_diagnosis(numpy2_venv, system_site)
    assert pattern.fullmatch(errors[0].removeprefix("maskwatch: error: ")), errors[0]
