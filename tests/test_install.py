"""The Pi path on this machine: `make deploy` to a local directory standing in for the SSH
target, the installer into a staging root (DESTDIR), the systemd unit's checks, and the
installed daemon against a loopback broker."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import FRAMES_PER_SCENE, ROOT, TOPIC, link_still_sequences
from tests.test_releases import RELEASES
from workbench.local_broker import Listener

MAX_EXPOSURE = 3.0
BOOKWORM_OS_RELEASE = (
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n'
)


@pytest.fixture(scope="module")
def deployed(bundle_dir):
    """``make deploy`` into a fresh target directory, installing into a staging root."""
    with tempfile.TemporaryDirectory(prefix="maskwatch-deploy-") as name:
        target, root = Path(name) / "pi-home", Path(name) / "root"
        (root / "etc").mkdir(parents=True)  # a bookworm root: the installer picks its set
        (root / "etc/os-release").write_text(BOOKWORM_OS_RELEASE)
        result = subprocess.run(
            ["make", "--no-print-directory", "deploy", f"HOST={target}",
             f"INSTALL_ENV=DESTDIR={root}"],
            cwd=ROOT, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        yield target, root, result.stdout


def tree(root):
    """Every path under ``root`` with its mode and content hash (or link target)."""
    entries = {}
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        if path.is_symlink():
            entries[str(path.relative_to(root))] = ("link", os.readlink(path))
        elif path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            entries[str(path.relative_to(root))] = (oct(path.stat().st_mode), digest)
        else:
            entries[str(path.relative_to(root))] = (oct(path.stat().st_mode), "dir")
    return entries


def install(target, root, *args, **env):
    return subprocess.run(
        ["systemd/install.sh", *args], cwd=target, capture_output=True, text=True,
        env={**os.environ, "DESTDIR": str(root), **env}, timeout=600,
    )  # fmt: skip


def mode(path):
    return oct(path.stat().st_mode & 0o777)


def test_deploy_copies_the_device_part_only(deployed, bundle_dir):
    target, _, output = deployed
    assert f"deploy: installing on {target}" in output
    assert (target / "edge" / "service" / "daemon.py").is_file() and (
        target / "systemd" / "install.sh"
    ).is_file()
    for name in ("manifest.json", "mask_classifier_int8.tflite"):
        assert (target / "bundle" / name).read_bytes() == (bundle_dir / name).read_bytes()
    for absent in ("train", "convert", "tests", "models", "reports", ".venv"):
        assert not (target / absent).exists(), absent


def test_the_installed_files_their_owners_and_modes(deployed, bundle_dir):
    _, root, output = deployed
    venv = root / "opt/maskwatch/venv"
    assert os.access(venv / "bin/maskwatch", os.X_OK)
    # One package, maskwatch, with the device's parts only (setup.py: no train/ on a Pi).
    (package,) = venv.glob("lib/python3*/site-packages/maskwatch")
    assert (package / "service" / "daemon.py").is_file()
    assert not (package / "train").exists() and not (package / "convert").exists()
    # picamera2 comes from apt on Raspberry Pi OS: the venv must see the system packages.
    assert "include-system-site-packages = true" in (venv / "pyvenv.cfg").read_text()
    probe = subprocess.run(
        [str(venv / "bin/python"), "-c",
         "import importlib.util as u; import numpy, cv2, paho.mqtt.client, ai_edge_litert; "
         "print([m for m in ('tensorflow', 'keras') if u.find_spec(m)], numpy.__version__)"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    # The device set only (no TensorFlow, no Keras), bookworm's: numpy 1.x for apt's simplejpeg.
    assert probe.stdout.strip() == f"[] {RELEASES['bookworm'].pins()['numpy']}"
    assert (
        "maskwatch install: installed the virtual environment in /opt/maskwatch/venv from "
        "requirements/device-bookworm.txt" in output
    )
    manifest = json.loads((root / "opt/maskwatch/bundle/manifest.json").read_text())
    assert manifest == json.loads((bundle_dir / "manifest.json").read_text())

    conf = root / "etc/maskwatch"
    assert mode(conf) == "0o750"
    assert mode(conf / "maskwatch.toml") == "0o640"  # not world-readable
    assert mode(conf / "mqtt_password") == "0o600"  # root only: systemd passes it on
    assert mode(conf / "web_password") == "0o600"
    assert (conf / "maskwatch.toml").read_text() == (ROOT / "config/device.toml").read_text()
    unit = root / "etc/systemd/system/maskwatch.service"
    assert unit.read_text() == (ROOT / "systemd/maskwatch.service").read_text()
    assert mode(unit) == "0o644"
    wants = root / "etc/systemd/system/multi-user.target.wants/maskwatch.service"
    assert os.readlink(wants) == "/etc/systemd/system/maskwatch.service"  # enabled

    user = re.search(r"(?m)^maskwatch:x:(\d+):(\d+):.*:/var/lib/maskwatch:(\S+)$",
                     (root / "etc/passwd").read_text())  # fmt: skip
    assert user and user.group(3) == "/usr/sbin/nologin"
    assert re.search(r"(?m)^video:x:\d+:.*\bmaskwatch\b", (root / "etc/group").read_text())
    if os.geteuid() == 0:  # the service's group may read the config, nobody else
        assert (conf / "maskwatch.toml").stat().st_gid == int(user.group(2))


def test_installing_again_changes_nothing_and_keeps_the_owners_config(deployed):
    target, root, _ = deployed
    config = root / "etc/maskwatch/maskwatch.toml"
    edited = config.read_text().replace('device_id = "front-door"', 'device_id = "porch"')
    config.write_text(edited)
    before = tree(root)
    again = install(target, root)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "maskwatch install: already installed; nothing changed"
    assert tree(root) == before
    assert config.read_text() == edited
    config.write_text((ROOT / "config/device.toml").read_text())


def test_the_installed_daemon_runs_from_the_staging_root(deployed, broker, clear_faces, tmp_path):
    _, root, _ = deployed
    frames = tmp_path / "frames"
    frames.mkdir()
    link_still_sequences(frames, clear_faces, FRAMES_PER_SCENE)
    listener = Listener(broker.port, f"{TOPIC}/events")
    env = {**os.environ, "STATE_DIRECTORY": str(root / "var/lib/maskwatch"),
           "CREDENTIALS_DIRECTORY": str(root / "etc/maskwatch")}  # fmt: skip
    result = subprocess.run(
        [str(root / "opt/maskwatch/venv/bin/maskwatch"), "run",
         "--config", str(root / "etc/maskwatch/maskwatch.toml"),
         "--set", f"bundle.path={root / 'opt/maskwatch/bundle'}",
         "--set", "source.kind=images", "--set", f"source.path={frames}",
         "--set", f"mqtt.port={broker.port}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert listener.wait_for(lambda lst: len(lst.payloads(f"{TOPIC}/events")) >= 4, 10)
    listener.close()
    assert (root / "var/lib/maskwatch/events.sqlite3").is_file()  # the queue, in StateDirectory


def test_the_unit_verifies_and_its_exposure_is_at_most_three(deployed, capsys):
    _, root, _ = deployed
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is missing: apt-get install systemd (make system-deps)")
    units = root / "usr/lib/systemd/system"  # the targets the unit refers to, as on a Pi
    if not units.exists():
        shutil.copytree("/usr/lib/systemd/system", units, symlinks=True)
    verify = subprocess.run(["systemd-analyze", "verify", f"--root={root}", "maskwatch.service"],
                            capture_output=True, text=True)  # fmt: skip
    assert verify.returncode == 0, verify.stderr
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"--root={root}", "--no-pager",
         "maskwatch.service"],
        capture_output=True, text=True,
    )  # fmt: skip
    with capsys.disabled():
        print("\n" + security.stdout)
    exposure = re.search(r"Overall exposure level for maskwatch.service: ([\d.]+)", security.stdout)
    assert exposure, security.stdout + security.stderr
    assert float(exposure.group(1)) <= MAX_EXPOSURE


def test_uninstall_keeps_the_config_and_queue_unless_purged(deployed):
    target, root, _ = deployed
    result = install(target, root, "--uninstall")
    assert result.returncode == 0, result.stderr
    assert not (root / "opt/maskwatch").exists()
    assert not (root / "etc/systemd/system/maskwatch.service").exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants/maskwatch.service").exists()
    assert (root / "etc/maskwatch/maskwatch.toml").is_file()
    assert (root / "var/lib/maskwatch/events.sqlite3").is_file()
    purged = install(target, root, "--uninstall", PURGE="1")
    assert purged.returncode == 0, purged.stderr
    assert not (root / "etc/maskwatch").exists() and not (root / "var/lib/maskwatch").exists()
    assert "maskwatch:" not in (root / "etc/passwd").read_text()
