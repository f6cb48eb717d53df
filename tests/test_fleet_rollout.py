"""Signed roll-outs to real daemons on a real mosquitto with per-device users and ACLs:
the canary first, then the rest; a bad signature, a wrong sha256, a truncated download and
a bundle that cannot start each end with the old bundle running and the reason reported,
and a daemon killed during a trial goes back to the old bundle at its next start."""

import json
import shutil
import signal
import subprocess
import sys

import pytest

from maskwatch.core.bundle import sha256_file
from tests.conftest import ROOT, maskwatch, terminate, wait_until
from workbench.local_broker import Listener, LocalBroker, free_port, secured_listener

DEVICES = "device_id,site,broker_user,group\ndoor-1,north,,canary\ndoor-2,south,,\n"


@pytest.fixture
def fleet(tmp_path):
    (tmp_path / "devices.csv").write_text(DEVICES)
    for name in ("fleet", "other"):
        made = maskwatch("fleet", "keygen", "--key", str(tmp_path / f"{name}.key"),
                         "--public", str(tmp_path / f"{name}.pub"))  # fmt: skip
        assert made.returncode == 0, made.stderr
    made = maskwatch("fleet", "provision", "--devices", str(tmp_path / "devices.csv"), "--config",
                     str(ROOT / "config/maskwatch.toml"), "--public-key",
                     str(tmp_path / "fleet.pub"), "--out", str(tmp_path / "out"))  # fmt: skip
    assert made.returncode == 0, made.stderr
    port = free_port()
    out = tmp_path / "out"
    with LocalBroker(extra=secured_listener(port, out / "broker/passwd", out / "broker/acl")) as b:
        b.fleet_port, b.folder = port, tmp_path
        b.observer = Listener(b.port, "maskwatch/#")
        yield b
        b.observer.close()


def admin(fleet, *args, timeout=240):
    config = fleet.folder / "out/admin/maskwatch.toml"
    port = f"mqtt.port={fleet.fleet_port}"
    return maskwatch("fleet", *args, "--config", str(config), "--set", port, timeout=timeout)


def start_device(fleet, device, frames, trial=3.0):
    folder = fleet.folder / "out/devices" / device
    return subprocess.Popen(
        [sys.executable, "-m", "maskwatch", "run", "--config", str(folder / "maskwatch.toml"),
         "--set", f"mqtt.port={fleet.fleet_port}",
         "--set", f"mqtt.password_file={folder / 'mqtt_password'}",
         "--set", f"source.path={frames}", "--set", "source.kind=images",
         "--set", "source.loop=true",
         "--set", "source.max_fps=5", "--set", f"queue.path={folder / 'events.sqlite3'}",
         "--set", f"fleet.store={folder / 'bundles'}", "--set", f"fleet.trial_seconds={trial}",
         "--set", "fleet.health_interval=1"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def report(fleet, device):
    found = fleet.observer.payloads(f"maskwatch/{device}/rollout")
    return json.loads(found[-1]) if found else {}


def publish(fleet, bundle, version, key="fleet"):
    result = admin(fleet, "publish", "--bundle", str(bundle), "--version", version,
                   "--key", str(fleet.folder / f"{key}.key"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result


def rollout(fleet, version, timeout=120):
    return admin(fleet, "rollout", "--devices", str(fleet.folder / "devices.csv"),
                 "--version", version, "--timeout", str(timeout))  # fmt: skip


def events_of(fleet, device):
    return len(fleet.observer.payloads(f"maskwatch/{device}/events"))


def test_canary_first_then_the_rest_and_the_fleet_view_shows_each(fleet, still_frames, bundle_dir):
    daemons = {d: start_device(fleet, d, still_frames) for d in ("door-1", "door-2")}
    assert wait_until(lambda: report(fleet, "door-1").get("state") == "ok", 60)
    assert wait_until(lambda: report(fleet, "door-2").get("running") == "factory", 60)
    publish(fleet, bundle_dir, "v2")
    result = rollout(fleet, "v2")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines.index("door-1: runs v2") < lines.index("rest: offering v2 to 1 devices")
    assert "door-2: runs v2" in lines and lines[-1] == "done: every device runs v2"
    for device, daemon in daemons.items():  # switched in place: the same process
        assert daemon.poll() is None
        state = json.loads((fleet.folder / f"out/devices/{device}/bundles/state.json").read_text())
        assert (state["current"], state["trial"]) == ("v2", None)
    assert wait_until(lambda: events_of(fleet, "door-1") > 0 and events_of(fleet, "door-2") > 0, 60)

    assert wait_until(lambda: '"bundle": "v2"' in admin(fleet, "show", "--json").stdout, 20)
    view = json.loads(admin(fleet, "show", "--json").stdout)
    health = view["door-2"]["health"]
    assert view["door-2"]["availability"] == "online" and health["site"] == "south"
    assert health["fps"] > 0 and health["queue_depth"] >= 0 and health["last_event"]
    text = admin(fleet, "show").stdout
    assert text.splitlines()[0].split()[:4] == ["device", "site", "online", "bundle"]
    assert any(
        line.split()[:5] == ["door-1", "north", "yes", "v2", "ok"] for line in text.splitlines()
    )
    for daemon in daemons.values():
        terminate(daemon)


def corrupt_chunk(fleet, version, payload):
    fleet.observer.publish(f"maskwatch-fleet/bundles/{version}/chunk/0", payload, retain=True)


def crashing_bundle(bundle_dir, folder):
    """Signed and whole, with a classifier no runtime can load: the daemon cannot start."""
    shutil.copytree(bundle_dir, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    model = folder / manifest["classifier"]["file"]
    model.write_bytes(b"not a model" * 100)
    manifest["files"][model.name] = sha256_file(model)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("bad signature", "bad signature"),
        ("wrong sha256", "does not match the offer's"),
        ("truncated", "truncated download"),
        ("cannot start", "cannot start"),
    ],
)
def test_a_bad_bundle_leaves_the_old_one_running_and_says_why(fleet, still_frames, bundle_dir,
                                                              tmp_path, case, reason):  # fmt: skip
    daemon = start_device(fleet, "door-1", still_frames)
    assert wait_until(lambda: report(fleet, "door-1").get("state") == "ok", 60)
    bundle = crashing_bundle(bundle_dir, tmp_path / "bad") if case == "cannot start" else bundle_dir
    publish(fleet, bundle, "v3", key="other" if case == "bad signature" else "fleet")
    if case == "wrong sha256":
        corrupt_chunk(fleet, "v3", b"x" * 256 * 1024)
    elif case == "truncated":
        corrupt_chunk(fleet, "v3", b"x" * 1000)
    result = rollout(fleet, "v3", timeout=90)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "canary: 1 of 1 did not keep v3; the rest were not offered it" in result.stdout
    assert reason in report(fleet, "door-1")["reason"], report(fleet, "door-1")
    assert report(fleet, "door-1")["running"] == "factory"
    assert fleet.observer.payloads("maskwatch/door-2/command") == []
    before = events_of(fleet, "door-1")
    assert wait_until(lambda: events_of(fleet, "door-1") > before, 60)  # the old bundle works
    assert daemon.poll() is None
    terminate(daemon)


def test_a_daemon_killed_during_the_trial_goes_back_at_its_next_start(
    fleet, still_frames, bundle_dir
):
    daemon = start_device(fleet, "door-1", still_frames, trial=600)
    assert wait_until(lambda: report(fleet, "door-1").get("state") == "ok", 60)
    publish(fleet, bundle_dir, "v4")
    rollout(fleet, "v4", timeout=1)  # offered; the trial lasts ten minutes
    assert wait_until(lambda: report(fleet, "door-1").get("state") == "trial", 60)
    daemon.send_signal(signal.SIGKILL)  # a crash, an out-of-memory kill, a power cut
    daemon.wait(10)
    daemon = start_device(fleet, "door-1", still_frames, trial=600)  # as systemd restarts it
    assert wait_until(lambda: report(fleet, "door-1").get("state") == "rolled_back", 60)
    assert "crashed or was stopped during the trial" in report(fleet, "door-1")["reason"]
    assert report(fleet, "door-1")["running"] == "factory"
    terminate(daemon)
