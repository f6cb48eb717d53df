"""Shared fixtures. Missing data, bundle or broker fail loudly: a skipped check is no check."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from scripts.local_broker import LocalBroker

ROOT = Path(__file__).resolve().parent.parent
DATA_ROOT = Path(os.environ.get("MASKWATCH_DATA", ROOT.parent / "shared" / "datasets"))
BUNDLE = ROOT / "bundle"
SPLIT = ROOT / "models" / "split.json"
CONFIG = ROOT / "config" / "maskwatch.toml"
TOPIC = "maskwatch/front-door"  # topic prefix and device id of config/maskwatch.toml


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not (DATA_ROOT / "scenes-voc" / "annotations").is_dir():
        pytest.fail(f"datasets not found at {DATA_ROOT}; set MASKWATCH_DATA to ../shared/datasets")
    return DATA_ROOT


@pytest.fixture(scope="session")
def bundle_dir() -> Path:
    if not (BUNDLE / "manifest.json").is_file():
        pytest.fail(f"no default bundle at {BUNDLE}; run 'make setup' (or 'make bundle') first")
    return BUNDLE


@pytest.fixture
def broker():
    with LocalBroker() as running:
        yield running


def maskwatch(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run the ``maskwatch`` command line in a child process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def error_lines(stderr: str) -> list[str]:
    """The lines maskwatch itself wrote as errors (runtimes add their own INFO lines)."""
    return [line for line in stderr.splitlines() if line.startswith("maskwatch: error:")]


def start_daemon(
    broker: LocalBroker, frames: Path, *overrides: str, queue: Path | None = None, **popen
) -> subprocess.Popen:
    """``maskwatch run`` with the default config, pointed at ``broker`` and ``frames``, with
    an event queue of its own (a fresh one unless ``queue`` is given)."""
    queue = queue or Path(tempfile.mkdtemp(prefix="maskwatch-queue-")) / "events.sqlite3"
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "run", "--config", str(CONFIG),
         "--set", f"mqtt.port={broker.port}", "--set", f"source.path={frames}",
         "--set", f"queue.path={queue}", *overrides],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen,
    )  # fmt: skip
