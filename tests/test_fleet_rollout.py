"""Signed roll-outs to real daemons on a real mosquitto with per-device users and ACLs:
the canary first, then the rest; a bad signature, a wrong sha256, a truncated download and
a bundle that cannot start each end with the old bundle running and the reason reported,
and a daemon killed during a trial goes back to the old bundle at its next start."""

import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import tarfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from maskwatch.core.bundle_store import BundleStore
from maskwatch.core.config import load_config
from maskwatch.service.fleet_run import TrialWatch
from tests.conftest import terminate, wait_until
from tests.test_service import notify_socket  # noqa: F401 (a fixture)
from workbench.fleet import Fleet, unloadable_bundle

ROWS = ["door-1,north,,canary", "door-2,south,,"]


@pytest.fixture
def fleet(tmp_path):
    with Fleet(tmp_path, ROWS) as running:
        yield running


def start_device(fleet, device, frames, trial=3.0):
    return fleet.start_device(device, frames, f"fleet.trial_seconds={trial}")


def report(fleet, device):
    found = fleet.observer.payloads(f"maskwatch/{device}/rollout")
    return json.loads(found[-1]) if found else {}


def publish(fleet, bundle, version, key="fleet"):
    result = fleet.admin(
        "publish", "--bundle", str(bundle), "--version", version,
                   "--key", str(fleet.folder / f"{key}.key"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result


def rollout(fleet, version, timeout=120):
    return fleet.admin("rollout", "--devices", str(fleet.devices_csv),
                 "--version", version, "--timeout", str(timeout))  # fmt: skip


def events_of(fleet, device):
    return len(fleet.observer.payloads(f"maskwatch/{device}/events"))


def listen(sock: socket.socket, messages: list[str], done: threading.Event) -> threading.Thread:
    """systemd's side of sd_notify, read in a thread so that the daemon never blocks."""

    def read() -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                messages.append(sock.recv(4096).decode())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_canary_first_then_the_rest_and_the_fleet_view_shows_each(
    fleet,
    still_frames,
    bundle_dir,
    notify_socket,  # noqa: F811 (the fixture, imported)
):
    sock, path = notify_socket
    notices, done = [], threading.Event()
    listener = listen(sock, notices, done)
    daemons = {
        "door-1": fleet.start_device("door-1", still_frames, "fleet.trial_seconds=3",
                                     env={**os.environ, "NOTIFY_SOCKET": str(path)}),
        "door-2": start_device(fleet, "door-2", still_frames),
    }  # fmt: skip
    assert wait_until(lambda: report(fleet, "door-1").get("state") == "ok", 60)
    assert wait_until(lambda: report(fleet, "door-2").get("running") == "factory", 60)
    publish(fleet, bundle_dir, "v2")
    result = rollout(fleet, "v2")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines.index("door-1: runs v2") < lines.index("rest: offering v2 to 1 devices")
    assert "door-2: runs v2" in lines and lines[-1] == "done: every device runs v2"
    kinds = [m.split("=")[0] for m in notices if not m.startswith("WATCHDOG=1")]
    assert kinds[:3] == ["READY", "RELOADING", "READY"], notices  # systemd sees a reload
    for device, daemon in daemons.items():  # switched in place: the same process
        assert daemon.poll() is None
        state = json.loads((fleet.out / f"devices/{device}/bundles/state.json").read_text())
        assert (state["current"], state["trial"]) == ("v2", None)
    assert wait_until(lambda: events_of(fleet, "door-1") > 0 and events_of(fleet, "door-2") > 0, 60)

    assert wait_until(lambda: '"bundle": "v2"' in fleet.admin("show", "--json").stdout, 20)
    view = json.loads(fleet.admin("show", "--json").stdout)
    health = view["door-2"]["health"]
    assert view["door-2"]["availability"] == "online" and health["site"] == "south"
    assert health["fps"] > 0 and health["queue_depth"] >= 0 and health["last_event"]
    text = fleet.admin("show").stdout
    assert text.splitlines()[0].split()[:4] == ["device", "site", "online", "bundle"]
    assert any(
        line.split()[:5] == ["door-1", "north", "yes", "v2", "ok"] for line in text.splitlines()
    )
    for daemon in daemons.values():
        terminate(daemon)
    done.set()
    listener.join()


def corrupt_chunk(fleet, version, payload):
    fleet.observer.publish(f"maskwatch-fleet/bundles/{version}/chunk/0", payload, retain=True)


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
    bundle = (
        unloadable_bundle(bundle_dir, tmp_path / "bad") if case == "cannot start" else bundle_dir
    )
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


def test_a_revoked_device_says_so_keeps_queueing_and_loses_nothing(fleet, still_frames):
    daemon = fleet.start_device("door-2", still_frames, "mqtt.reconnect_max=2")
    assert wait_until(lambda: events_of(fleet, "door-2") > 0, 60)
    fleet.revoke("door-2")  # the broker drops it at once, and its last will too (not its topic now)
    time.sleep(3)
    during = events_of(fleet, "door-2")
    time.sleep(8)  # people keep coming to the door meanwhile
    assert events_of(fleet, "door-2") == during  # the broker takes nothing from it
    fleet.provision(ROWS)  # let back in
    fleet.broker.reload()
    assert wait_until(lambda: events_of(fleet, "door-2") > during + 2, 60)
    stderr = terminate(daemon)
    assert "refused the connection: Not authorized" in stderr
    seqs = [json.loads(p)["seq"] for p in fleet.observer.payloads("maskwatch/door-2/events")]
    assert sorted(set(seqs)) == list(range(1, max(seqs) + 1))  # none lost


class StubAgent:
    """The agent's part a trial's judgement uses: the store, and what it reported."""

    def __init__(self, store):
        self.store, self.reports = store, []

    def report(self, *args):
        self.reports.append(args)


def test_frames_stopping_during_a_trial_roll_back_and_restart(tmp_path, bundle_dir):
    store = BundleStore(tmp_path / "store")
    shutil.copytree(bundle_dir, tmp_path / "store/v5")
    store.begin_trial("v5")
    store.start()
    agent, restarts = StubAgent(store), []
    watch = TrialWatch.__new__(TrialWatch)  # only the judgement, without a daemon
    watch.agent, watch.restart = agent, lambda: restarts.append(1)
    watch.fleet = load_config(None, ["fleet.stall_seconds=30", "fleet.trial_seconds=100"]).fleet
    watch._judge(running=50, stalled=10, frames=100)
    assert (store.in_trial, restarts) == (True, [])  # frames come: the trial goes on
    watch._judge(running=120, stalled=20, frames=0)
    assert (store.in_trial, restarts) == (True, [])  # no frame yet: not kept either
    watch._judge(running=60, stalled=31, frames=100)
    assert (store.in_trial, store.state.current, restarts) == (False, None, [1])
    assert agent.reports == [("rolled_back", "v5", "no frame for 31 s during the trial")]
    assert BundleStore(tmp_path / "store").state.failed == {
        "v5": "no frame for 31 s during the trial"
    }


@pytest.fixture
def web(tmp_path):
    """A static file server on loopback, as a site's web server would serve the bundle."""
    served = tmp_path / "www"
    served.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(served))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_bundle_served_from_a_url_is_checked_the_same_way(fleet, still_frames, bundle_dir, web):
    served, base = web
    archive = served / "v6.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for file in sorted(bundle_dir.iterdir()):
            tar.add(file, arcname=file.name)
    key, url = str(fleet.folder / "fleet.key"), f"{base}/v6.tar.gz"
    refused = fleet.admin("publish", "--bundle", str(bundle_dir), "--version", "v6",
                          "--key", key, "--url", url)  # fmt: skip
    assert refused.returncode == 1 and "give the .tar.gz file served there" in refused.stderr
    daemon = start_device(fleet, "door-1", still_frames)
    assert wait_until(lambda: report(fleet, "door-1").get("state") == "ok", 60)
    whole = archive.read_bytes()
    for version in ("v6", "v7"):
        published = fleet.admin("publish", "--bundle", str(archive), "--version", version,
                                "--key", key, "--url", url)  # fmt: skip
        assert published.returncode == 0, published.stderr
    archive.write_bytes(whole[: len(whole) // 2])  # the server now gives half of it
    result = rollout(fleet, "v7", timeout=60)
    assert "truncated download" in report(fleet, "door-1")["reason"], result.stdout
    archive.write_bytes(whole)
    result = rollout(fleet, "v6", timeout=45)  # door-2 is not running: only door-1 answers
    assert "door-1: runs v6" in result.stdout, result.stdout + result.stderr
    assert fleet.observer.payloads("maskwatch-fleet/bundles/v6/chunk/0") == []  # no chunks
    terminate(daemon)
