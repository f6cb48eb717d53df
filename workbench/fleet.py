"""A fleet on loopback, for the tests and ``make fleet-test``: keys, a device list
provisioned with ``maskwatch fleet provision``, a real mosquitto running its password file
and ACL on a second listener, and ``maskwatch run`` daemons with per-device users."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from maskwatch.core.bundle import sha256_file
from workbench.local_broker import Listener, LocalBroker, free_port, secured_listener

ROOT = Path(__file__).resolve().parent.parent
BASE_CONFIG = ROOT / "config" / "maskwatch.toml"


def maskwatch(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "maskwatch", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def checked(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(result.args[2:5])}: {result.stderr.strip()}")
    return result


class Fleet:
    """``with Fleet(folder, rows) as fleet``: ``rows`` are the CSV's lines after its
    header ``device_id,site,broker_user,group``. ``fleet.broker.port`` is the anonymous
    listener (for observers), ``fleet.port`` the one with passwords and the ACL."""

    def __init__(self, folder: Path, rows: list[str]) -> None:
        self.folder = folder
        self.devices_csv = folder / "devices.csv"
        self.out = folder / "out"
        self.rows = rows
        for name in ("fleet", "other"):  # "other": a key that is not the fleet's
            checked(maskwatch("fleet", "keygen", "--key", str(folder / f"{name}.key"),
                              "--public", str(folder / f"{name}.pub")))  # fmt: skip
        self.provision(rows)
        self.port = free_port()
        self.broker = LocalBroker(extra=secured_listener(self.port, self.out / "broker/passwd",
                                                         self.out / "broker/acl"))  # fmt: skip
        self.observer: Listener | None = None
        self.daemons: list[subprocess.Popen] = []  # ended on exit, should a test fail

    def provision(self, rows: list[str]) -> None:
        self.devices_csv.write_text("device_id,site,broker_user,group\n" + "".join(
            f"{row}\n" for row in rows))  # fmt: skip
        checked(maskwatch("fleet", "provision", "--devices", str(self.devices_csv), "--config",
                          str(BASE_CONFIG), "--public-key", str(self.folder / "fleet.pub"),
                          "--out", str(self.out)))  # fmt: skip

    def revoke(self, device: str) -> None:
        """The device's broker user out of the password file and the ACL; the broker reloads."""
        self.provision([row for row in self.rows if row.split(",")[0] != device])
        self.broker.reload()

    def __enter__(self) -> "Fleet":
        self.broker.start()
        self.observer = Listener(self.broker.port, "maskwatch/#")
        return self

    def __exit__(self, *exc: object) -> None:
        for daemon in self.daemons:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait(10)
        if self.observer:
            self.observer.close()
        self.broker.__exit__()

    def admin(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """``maskwatch fleet ARGS`` with the admin's config and user."""
        config = self.out / "admin/maskwatch.toml"
        port = f"mqtt.port={self.port}"
        return maskwatch("fleet", *args, "--config", str(config), "--set", port, timeout=timeout)

    def start_device(self, device: str, frames: Path, *settings: str, fps: float = 5,
                     **popen) -> subprocess.Popen:  # fmt: skip
        """``maskwatch run`` with the device's card config on a folder of frames, looping at
        ``fps`` frames a second, its store and queue in its folder; ``settings``: more --set."""
        folder = self.out / "devices" / device
        overrides = [
            f"mqtt.port={self.port}", f"mqtt.password_file={folder / 'mqtt_password'}",
            "source.kind=images", f"source.path={frames}", "source.loop=true",
            f"source.max_fps={fps}", f"queue.path={folder / 'events.sqlite3'}",
            f"fleet.store={folder / 'bundles'}", "fleet.health_interval=1", *settings,
        ]  # fmt: skip
        config = folder / "maskwatch.toml"
        command = [sys.executable, "-m", "maskwatch", "run", "--config", str(config)]
        for override in overrides:
            command += ["--set", override]
        popen = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "text": True, **popen}
        self.daemons.append(subprocess.Popen(command, cwd=ROOT, **popen))
        return self.daemons[-1]


def unloadable_bundle(bundle: Path, folder: Path) -> Path:
    """A copy of ``bundle``, signed and whole once published, whose classifier is not a
    model: a daemon cannot start on it."""
    shutil.copytree(bundle, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    model = folder / manifest["classifier"]["file"]
    model.write_bytes(b"not a model" * 100)
    manifest["files"][model.name] = sha256_file(model)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder
