"""The device set per Raspberry Pi OS release (systemd/releases): every pin has an aarch64
wheel for that release's Python on the package index, and the installer picks the set
from the target's /etc/os-release, refusing a release or a Python it has no set for."""

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT


@dataclass(frozen=True)
class Release:
    codename: str
    python: str
    glibc: str
    requirements: Path

    def pins(self) -> dict[str, str]:
        lines = (line.split("#")[0].strip() for line in self.requirements.read_text().splitlines())
        return dict(line.split("==") for line in lines if line)

    def platforms(self, arch: str = "aarch64") -> list[str]:
        """Every manylinux tag this release's glibc runs, for ``pip --platform``."""
        newest = int(self.glibc.split(".")[1])
        tags = [f"manylinux_2_{minor}_{arch}" for minor in range(17, newest + 1)]
        return [f"manylinux2014_{arch}", *tags]


def releases() -> list[Release]:
    rows = [line.split() for line in (ROOT / "systemd/releases").read_text().splitlines()]
    return [Release(r[0], r[1], r[2], ROOT / r[3]) for r in rows if r and not r[0].startswith("#")]


RELEASES = {release.codename: release for release in releases()}


def pip_resolve(release: Release, *requirements: Path, arch: str = "aarch64") -> dict[str, str]:
    """What pip would install for ``release`` (wheels only, metadata from the index): name to
    wheel file. Fails the test if anything lacks a wheel."""
    platforms = [arg for tag in release.platforms(arch) for arg in ("--platform", tag)]
    files = [arg for path in requirements for arg in ("-r", str(path))]
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--disable-pip-version-check", "--only-binary=:all:", "--implementation", "cp",
         "--python-version", release.python, *platforms, *files, "--report", "-"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    return {
        item["metadata"]["name"].lower(): item["download_info"]["url"].rsplit("/", 1)[1]
        for item in report["install"]
    }


def test_the_table_names_both_releases_and_their_pythons():
    assert {name: release.python for name, release in RELEASES.items()} == {
        "bookworm": "3.11",
        "trixie": "3.13",
    }
    assert RELEASES["bookworm"].pins()["numpy"].startswith("1.")  # apt's simplejpeg: numpy 1
    assert RELEASES["trixie"].pins()["numpy"].startswith("2.")


@pytest.mark.parametrize("codename", sorted(RELEASES))
def test_every_pin_has_an_aarch64_wheel_for_the_releases_python(codename):
    release = RELEASES[codename]
    wheels = pip_resolve(release, release.requirements, ROOT / "requirements/offline.txt")
    for name, version in release.pins().items():
        wheel = wheels[name.lower()]
        assert f"-{version}-" in wheel, wheel
        tag = re.search(r"-(cp\d+|py3|py2\.py3|cp37)-[^-]+-([^-]+)\.whl$", wheel)
        assert tag, wheel
        assert tag.group(2) == "any" or "aarch64" in tag.group(2), wheel
    cpython = "cp" + release.python.replace(".", "")
    assert cpython in wheels["numpy"] and cpython in wheels["ai-edge-litert"]


def install_into(root: Path, codename: str, **env: str) -> subprocess.CompletedProcess:
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/os-release").write_text(
        f'PRETTY_NAME="Debian GNU/Linux ({codename})"\nID=debian\nVERSION_CODENAME={codename}\n'
    )
    return subprocess.run(
        ["systemd/install.sh"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "DESTDIR": str(root), **env},
    )  # fmt: skip


def test_an_unknown_release_is_refused_naming_the_supported_ones(tmp_path):
    result = install_into(tmp_path, "bullseye")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "maskwatch install: error: release 'bullseye' is not supported; maskwatch installs "
        "on Raspberry Pi OS bookworm (Python 3.11), trixie (Python 3.13)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etc"]  # nothing installed


def test_a_python_the_set_was_not_pinned_for_is_refused(tmp_path):
    python = "{}.{}".format(*sys.version_info[:2])
    other = "trixie" if python != "3.13" else "bookworm"
    result = install_into(tmp_path, other, PYTHON=sys.executable)
    assert result.returncode == 1
    want = RELEASES[other].python
    assert result.stderr.strip() == (
        f"maskwatch install: error: {other}'s device set is pinned for Python {want}, but "
        f"{sys.executable} is Python {python}; run with PYTHON=python{want}"
    )
