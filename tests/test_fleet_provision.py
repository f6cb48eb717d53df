"""Provisioning a fleet from a device list, against a real mosquitto running the password
file and ACL that ``maskwatch fleet provision`` wrote: each device may speak only for its
own door, and a device left out of the list is locked out when the broker reloads."""

import base64
import subprocess
import sys
import time

import pytest

from maskwatch.core.config import load_config
from maskwatch.service.provision import ADMIN_USER, ProvisionError, password_hash, read_devices
from tests.conftest import ROOT, error_lines, maskwatch, wait_until
from tests.test_sd_card import IMAGER_USER_DATA, fat_image, read_from
from workbench.local_broker import Listener, LocalBroker, free_port, secured_listener

DEVICES = "device_id,site,broker_user,group\ndoor-1,north,,canary\ndoor-2,south,d2,\n"


@pytest.fixture
def fleet(tmp_path):
    """Keys, the device list and what provisioning wrote from them."""
    (tmp_path / "devices.csv").write_text(DEVICES)
    keygen = maskwatch("fleet", "keygen", "--key", str(tmp_path / "fleet.key"),
                       "--public", str(tmp_path / "fleet.pub"))  # fmt: skip
    assert keygen.returncode == 0, keygen.stderr
    result = provision(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 cards' configs and passwords (1 canary)" in result.stdout
    return tmp_path / "out"


def provision(folder, devices="devices.csv"):
    return maskwatch("fleet", "provision", "--devices", str(folder / devices),
                     "--config", str(ROOT / "config/device.toml"), "--public-key",
                     str(folder / "fleet.pub"), "--out", str(folder / "out"))  # fmt: skip


def secret(out, device):
    return (out / "devices" / device / "mqtt_password").read_text().strip()


@pytest.fixture
def fleet_broker(fleet):
    port = free_port()
    extra = secured_listener(port, fleet / "broker/passwd", fleet / "broker/acl")
    with LocalBroker(extra=extra) as broker:
        broker.fleet_port = port
        yield broker


def test_each_card_gets_its_own_id_user_password_and_key(fleet, tmp_path):
    one = load_config(fleet / "devices/door-1/maskwatch.toml")
    two = load_config(fleet / "devices/door-2/maskwatch.toml")
    assert (one.device_id, one.mqtt.username, one.fleet.group) == ("door-1", "door-1", "canary")
    assert (two.device_id, two.mqtt.username, two.fleet.site) == ("door-2", "d2", "south")
    assert (
        one.fleet.enabled and one.fleet.public_key == (tmp_path / "fleet.pub").read_text().strip()
    )
    assert secret(fleet, "door-1") != secret(fleet, "door-2")
    assert (fleet / "devices/door-1/mqtt_password").stat().st_mode & 0o077 == 0
    assert one.source.kind == "picamera2"  # the rest of the base config is kept

    before = secret(fleet, "door-1")
    (tmp_path / "more.csv").write_text(DEVICES + "door-3,west,,\n")
    assert provision(tmp_path, "more.csv").returncode == 0
    assert secret(fleet, "door-1") == before  # cards already written keep working
    assert "user door-3" in (fleet / "broker/acl").read_text()


def test_a_device_writes_only_its_own_topics_and_reads_only_its_commands(fleet, fleet_broker):
    port = fleet_broker.fleet_port
    observer = Listener(fleet_broker.port)  # the anonymous loopback listener sees everything
    door1 = Listener(port, "maskwatch/+/command", user=("door-1", secret(fleet, "door-1")))
    door2 = Listener(port, "maskwatch/door-2/command", user=("d2", secret(fleet, "door-2")))
    admin_password = (fleet / "admin/mqtt_password").read_text().strip()
    admin = Listener(port, "maskwatch/+/events", user=(ADMIN_USER, admin_password))

    door1.publish("maskwatch/door-1/events", "mine")
    door1.publish("maskwatch/door-2/events", "spoofed")  # a stolen card speaking for door 2
    door1.publish("maskwatch/door-2/command", "spoofed")
    door1.publish("homeassistant/sensor/maskwatch_door-1/fps/config", "{}")
    door1.publish("homeassistant/sensor/maskwatch_door-2/fps/config", "spoofed")
    admin.publish("maskwatch/door-2/command", "install")
    assert wait_until(lambda: door2.payloads("maskwatch/door-2/command") == [b"install"])
    assert wait_until(lambda: admin.payloads("maskwatch/door-1/events") == [b"mine"])
    seen = {(t, p) for t, p, _ in observer.messages}
    assert ("maskwatch/door-1/events", b"mine") in seen
    assert ("homeassistant/sensor/maskwatch_door-1/fps/config", b"{}") in seen
    assert not [m for m in observer.messages if m[1] == b"spoofed"], observer.messages
    assert door1.payloads("maskwatch/door-2/command") == []  # not its command topic
    for client in (observer, door1, door2, admin):
        client.close()


def test_a_wrong_password_is_refused_and_a_removed_device_is_revoked(fleet, fleet_broker, tmp_path):
    port = fleet_broker.fleet_port
    with pytest.raises(RuntimeError, match="could not subscribe"):
        Listener(port, "maskwatch/door-1/command", user=("door-1", "guessed"))
    (tmp_path / "devices.csv").write_text(DEVICES.replace("door-2,south,d2,\n", ""))
    assert provision(tmp_path).returncode == 0
    fleet_broker.reload()
    time.sleep(0.5)  # the broker reads the files again
    with pytest.raises(RuntimeError, match="could not subscribe"):
        Listener(port, "maskwatch/door-2/command", user=("d2", secret(fleet, "door-2")))
    Listener(port, "maskwatch/door-1/command", user=("door-1", secret(fleet, "door-1"))).close()


def test_the_hash_is_the_one_mosquitto_passwd_writes(tmp_path):
    made = subprocess.run(["mosquitto_passwd", "-c", "-b", str(tmp_path / "p"), "u", "pw"],
                          capture_output=True, check=True)  # fmt: skip
    assert made.returncode == 0
    theirs = (tmp_path / "p").read_text().strip().split(":", 1)[1]
    salt = base64.b64decode(theirs.split("$")[3])
    assert password_hash("pw", salt) == theirs
    assert password_hash("other", salt) != theirs


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("site\nnorth\n", "expected a CSV header with device_id"),
        ("device_id,wifi\ndoor-1,x\n", "unknown column 'wifi'"),
        ("device_id\ndoor/1\n", "line 2: device_id 'door/1'"),
        ("device_id,group\ndoor-1,beta\n", "line 2: group 'beta'"),
        ("device_id\ndoor-1\ndoor-1\n", "line 3: door-1 / door-1 is listed twice"),
        (f"device_id,broker_user\ndoor-1,{ADMIN_USER}\n", "line 2: broker_user"),
    ],
)
def test_a_bad_device_list_is_one_line_naming_the_row(tmp_path, csv, message):
    (tmp_path / "d.csv").write_text(csv)
    with pytest.raises(ProvisionError, match=message):
        read_devices(tmp_path / "d.csv")


def test_make_sd_card_with_a_device_list_writes_each_card_its_own_secrets(tmp_path):
    (tmp_path / "devices.csv").write_text(DEVICES)
    assert maskwatch("fleet", "keygen", "--key", str(tmp_path / "k"),
                     "--public", str(tmp_path / "fleet.pub")).returncode == 0  # fmt: skip
    for device in ("door-1", "door-2"):
        (tmp_path / device).mkdir()
        fat_image(tmp_path / device / "bootfs.img", {"user-data": IMAGER_USER_DATA})
    result = subprocess.run(
        ["make", "--no-print-directory", "sd-card", f"BOOT={tmp_path}/{{device}}/bootfs.img",
         f"CONFIG={ROOT / 'config/device.toml'}", f"DEVICES={tmp_path / 'devices.csv'}",
         f"PUBLIC_KEY={tmp_path / 'fleet.pub'}", f"FLEET={tmp_path / 'fleet'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for device in ("door-1", "door-2"):
        image = tmp_path / device / "bootfs.img"
        card_config = read_from(image, "maskwatch/maskwatch.toml")
        assert f'device_id = "{device}"' in card_config
        assert read_from(image, "maskwatch/mqtt_password").strip() == secret(
            tmp_path / "fleet", device
        )
    assert "maskwatch-acl" in result.stdout
    assert secret(tmp_path / "fleet", "door-1") not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["fleet.enabled=true"], "config key fleet.public_key: expected the fleet's public key"),
        (["fleet.enabled=true", "fleet.public_key=abc"], "fleet.public_key: not an ed25519 public"),
    ],
)
def test_a_fleet_device_without_a_usable_key_is_a_config_error(tmp_path, settings, message):
    args = [a for s in [*settings, f"source.path={tmp_path}"] for a in ("--set", s)]
    result = maskwatch("run", "--config", str(ROOT / "config/maskwatch.toml"), *args)
    assert result.returncode == 78, result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and message in errors[0], result.stderr


BLOCK_CRYPTOGRAPHY = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "cryptography":
            raise ImportError("cryptography is blocked")
sys.meta_path.insert(0, Block())
from maskwatch.service.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_one_pi_without_a_fleet_needs_no_cryptography(tmp_path):
    """The single-Pi path as before: an environment without the new dependency still runs."""

    def blocked(*args):
        return subprocess.run([sys.executable, "-c", BLOCK_CRYPTOGRAPHY, *args],
                              capture_output=True, text=True, cwd=ROOT)  # fmt: skip

    ok = blocked("bundle", "verify", str(ROOT / "bundle"))
    assert ok.returncode == 0 and "bundle ok" in ok.stdout, ok.stderr
    keygen = blocked(
        "fleet", "keygen", "--key", str(tmp_path / "k"), "--public", str(tmp_path / "p")
    )
    assert "cryptography is blocked" in keygen.stderr  # the blocker does block the fleet's part
