"""Provisioning a fleet from a device list: one config and one broker password per card,
and the broker's side (a mosquitto password file and an ACL).

The device list is a CSV file with a header: ``device_id`` (required), ``site``,
``broker_user`` (default: the device id) and ``group`` (``canary`` or empty). Each device
may publish only under ``<prefix>/<device_id>/`` (and its own Home Assistant discovery
topics) and read only its own ``command`` topic and the signed bundles; the fleet's admin
user reads everything and writes commands and bundles. A device left out of the list is
left out of the password file: reloading the broker revokes it.

Passwords are made once and kept in ``<out>/devices/<id>/mqtt_password``, so running the
provisioning again (a device added) leaves the cards already written working.
"""

import base64
import csv
import hashlib
import re
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

from maskwatch.core.config import PATH_KEYS, load_config
from maskwatch.core.errors import MaskwatchError
from maskwatch.service.toml_out import dump_toml

ADMIN_USER = "maskwatch-admin"
DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
BROKER_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
GROUPS = ("", "canary")
PBKDF2_ITERATIONS = 101  # what mosquitto_passwd writes for its $7$ (PBKDF2-SHA512) hashes


class ProvisionError(MaskwatchError):
    """The device list or the base config cannot be provisioned."""


@dataclass(frozen=True)
class Device:
    device_id: str
    site: str = ""
    broker_user: str = ""
    group: str = ""

    @property
    def user(self) -> str:
        return self.broker_user or self.device_id


def read_devices(path: Path) -> list[Device]:
    """The device list, each bad row one line naming the row and what to fix."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
            header = rows and list(rows[0].keys())
    except OSError as error:
        raise ProvisionError(f"{path}: cannot read the device list ({error.strerror})") from None
    if not rows or "device_id" not in (header or []):
        raise ProvisionError(
            f"{path}: expected a CSV header with device_id[,site,broker_user,group]"
        )
    unknown = set(header) - {"device_id", "site", "broker_user", "group"}
    if unknown:
        raise ProvisionError(f"{path}: unknown column {sorted(unknown)[0]!r}; "
                             "the columns are device_id, site, broker_user, group")  # fmt: skip
    devices: list[Device] = []
    for line, row in enumerate(rows, start=2):
        device = Device(**{k: (v or "").strip() for k, v in row.items()})
        where = f"{path} line {line}"
        if not DEVICE_ID.fullmatch(device.device_id):
            raise ProvisionError(f"{where}: device_id {device.device_id!r}: use letters, digits, "
                                 "'-' and '_' (it is part of MQTT topics)")  # fmt: skip
        if not BROKER_USER.fullmatch(device.user) or device.user == ADMIN_USER:
            raise ProvisionError(f"{where}: broker_user {device.user!r}: use letters, digits and "
                                 f"'._@-', not {ADMIN_USER!r}")  # fmt: skip
        if device.group not in GROUPS:
            raise ProvisionError(f"{where}: group {device.group!r}: expected empty or 'canary'")
        for other in devices:
            if device.device_id == other.device_id or device.user == other.user:
                raise ProvisionError(f"{where}: {device.device_id} / {device.user} is listed twice")
        devices.append(device)
    return devices


def password_hash(password: str, salt: bytes | None = None) -> str:
    """mosquitto's ``$7$`` hash (PBKDF2-SHA512), as ``mosquitto_passwd`` writes it."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    encode = base64.b64encode
    return f"$7${PBKDF2_ITERATIONS}${encode(salt).decode()}${encode(digest).decode()}"


def device_acl(device: Device, prefix: str, ha_prefix: str, bundle_topic: str) -> str:
    """One device's ACL: its own topics to write, its command topic and the bundles to read."""
    base = f"{prefix}/{device.device_id}"
    return (
        f"user {device.user}\n"
        f"topic write {base}/#\n"
        f"topic read {base}/command\n"
        f"topic read {bundle_topic}/#\n"
        f"topic write {ha_prefix}/+/maskwatch_{device.device_id}/#\n"
        f"topic read {ha_prefix}/status\n"
    )


def acl_text(devices: list[Device], prefix: str, ha_prefix: str, bundle_topic: str) -> str:
    admin = (
        "# The fleet's admin (maskwatch fleet ...): reads all, writes commands and bundles.\n"
        f"user {ADMIN_USER}\ntopic read {prefix}/#\ntopic write {prefix}/+/command\n"
        f"topic readwrite {bundle_topic}/#\ntopic read {ha_prefix}/#\n"
    )
    header = (
        "# maskwatch fleet ACL (mosquitto acl_file), written by 'maskwatch fleet provision'.\n"
        "# Each device writes only under its own topics and reads only its command topic\n"
        "# and the signed bundles. Add your own users (Home Assistant, Node-RED) below.\n\n"
    )
    body = "\n".join(device_acl(d, prefix, ha_prefix, bundle_topic) for d in devices)
    return f"{header}{admin}\n{body}"


def kept_password(path: Path) -> str:
    """The password already made for this card, else a new one (written 0600)."""
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password


def device_config(base: dict, device: Device, public_key: str) -> dict:
    """The base config with this device's id, broker user and fleet settings."""
    config = {key: dict(value) if isinstance(value, dict) else value for key, value in base.items()}
    config["device_id"] = device.device_id
    config["mqtt"] = {**config.get("mqtt", {}), "username": device.user}
    config["mqtt"].pop("password_file", None)  # the card's password comes as a credential
    fleet = {**config.get("fleet", {}), "enabled": True, "public_key": public_key}
    config["fleet"] = {**fleet, "site": device.site, "group": device.group}
    return config


def provision(devices_csv: Path, base_config: Path, public_key: Path, out: Path) -> list[Device]:
    """Write ``out/devices/<id>/{maskwatch.toml,mqtt_password}``, ``out/broker/{passwd,acl,
    maskwatch-fleet.conf}`` and the admin's ``out/admin/{maskwatch.toml,mqtt_password}``."""
    devices = read_devices(devices_csv)
    checked = load_config(base_config)  # one line naming the key if the base is wrong
    base = tomllib.loads(base_config.read_text(encoding="utf-8"))
    for section, key in PATH_KEYS:  # relative to the base config, wherever the cards' go
        table = base.get(section, {})
        if isinstance(table.get(key), str) and table[key]:
            table[key] = str((base_config.parent / table[key]).resolve())
    try:
        key = public_key.read_text().strip()
    except OSError as error:
        raise ProvisionError(f"{public_key}: cannot read the public key ({error.strerror}); "
                             "make it with 'maskwatch fleet keygen'") from None  # fmt: skip
    prefix, ha_prefix = checked.mqtt.topic_prefix, checked.homeassistant.prefix
    bundle_topic = checked.fleet.bundle_topic
    hashes = []
    for device in devices:
        folder = out / "devices" / device.device_id
        password = kept_password(folder / "mqtt_password")
        hashes.append(f"{device.user}:{password_hash(password)}")
        text = dump_toml(device_config(base, device, key))
        made = f"# {device.device_id}: by 'maskwatch fleet provision' from {base_config.name}"
        (folder / "maskwatch.toml").write_text(f"{made}\n{text}")
        load_config(folder / "maskwatch.toml")  # what the card gets is a valid config
    admin_password = kept_password(out / "admin" / "mqtt_password")
    hashes.insert(0, f"{ADMIN_USER}:{password_hash(admin_password)}")
    admin = {"mqtt": {**base.get("mqtt", {}), "username": ADMIN_USER,
                      "password_file": "mqtt_password"},
             "homeassistant": base.get("homeassistant", {}),
             "fleet": {"public_key": key, "bundle_topic": bundle_topic}}  # fmt: skip
    admin["mqtt"].pop("client_id", None)
    (out / "admin" / "maskwatch.toml").write_text(dump_toml(admin))
    broker = out / "broker"
    broker.mkdir(parents=True, exist_ok=True)
    (broker / "passwd").touch(mode=0o600)
    (broker / "passwd").write_text("\n".join(hashes) + "\n")
    (broker / "acl").write_text(acl_text(devices, prefix, ha_prefix, bundle_topic))
    (broker / "maskwatch-fleet.conf").write_text(
        "# /etc/mosquitto/conf.d/maskwatch-fleet.conf; copy passwd and acl to /etc/mosquitto/\n"
        "per_listener_settings false\nallow_anonymous false\n"
        "password_file /etc/mosquitto/maskwatch-passwd\nacl_file /etc/mosquitto/maskwatch-acl\n"
    )
    return devices
