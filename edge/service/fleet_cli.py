"""``maskwatch fleet ...``: for whoever looks after a fleet of devices (docs/fleet.md).

What signs or verifies (``cryptography``) is imported by the commands that need it, so the
rest of ``maskwatch`` runs in an environment without it, as before.
"""

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from maskwatch.core.config import load_config
from maskwatch.service.fleet_view import read_fleet, table
from maskwatch.service.provision import provision, read_devices


def cmd_keygen(args: argparse.Namespace) -> int:
    from maskwatch.core.signing import make_key_pair

    make_key_pair(args.key, args.public)
    print(f"{args.key}: the private signing key (0600; keep it off the devices)")
    print(f"{args.public}: the public key ('maskwatch fleet provision' puts it on every card)")
    return 0


def cmd_provision(args: argparse.Namespace) -> int:
    devices = provision(args.devices, args.config, args.public_key, args.out)
    canaries = sum(d.group == "canary" for d in devices)
    print(f"{args.out}/devices: {len(devices)} cards' configs and passwords ({canaries} canary)")
    print(f"{args.out}/broker: passwd, acl and maskwatch-fleet.conf for mosquitto; "
          f"reload it (systemctl reload mosquitto) after copying them")  # fmt: skip
    print(f"{args.out}/admin/maskwatch.toml: the config for 'maskwatch fleet publish/rollout/show'")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from maskwatch.service.fleet_admin import admin_link, publish_bundle

    config = load_config(args.config, args.set)
    link = admin_link(config)
    try:
        offer = publish_bundle(link, config.fleet.bundle_topic, args.bundle, args.version,
                               args.key, args.url)  # fmt: skip
    finally:
        link.close()
    where = offer.url or f"{offer.chunks} retained chunks under {config.fleet.bundle_topic}"
    print(f"bundle {offer.version}: {offer.size} bytes, sha256 {offer.sha256}, signed; {where}")
    return 0


def cmd_rollout(args: argparse.Namespace) -> int:
    from maskwatch.service.fleet_admin import admin_link, roll_out

    config = load_config(args.config, args.set)
    devices = read_devices(args.devices)
    link = admin_link(config)
    try:
        kept = roll_out(link, config, devices, args.version, args.timeout,
                        lambda line: print(line, flush=True))  # fmt: skip
    finally:
        link.close()
    return 0 if kept else 1


def cmd_show(args: argparse.Namespace) -> int:
    from maskwatch.service.fleet_admin import admin_link

    config = load_config(args.config, args.set)
    link = admin_link(config)
    try:
        fleet = read_fleet(link, config.mqtt.topic_prefix)
    finally:
        link.close()
    print(json.dumps(fleet, indent=1, sort_keys=True) if args.json else table(fleet))
    return 0


def add_fleet_commands(
    commands: argparse._SubParsersAction,
    add_config: Callable[[argparse.ArgumentParser, bool], None],
) -> None:
    """``add_config``: the ``--config`` and ``--set`` options, as ``maskwatch run`` has them."""
    fleet = commands.add_parser(
        "fleet", help="many devices on one broker: provision, roll out, view"
    )
    sub = fleet.add_subparsers(dest="fleet_command", required=True)

    keygen = sub.add_parser("keygen", help="make the ed25519 key pair that signs bundles")
    keygen.add_argument("--key", type=Path, required=True, help="the private key to write (PEM)")
    keygen.add_argument("--public", type=Path, required=True, help="the public key to write")
    keygen.set_defaults(func=cmd_keygen)

    prov = sub.add_parser("provision", help="per-card configs and passwords, the broker's ACL")
    prov.add_argument("--devices", type=Path, required=True,
                      help="CSV: device_id[,site,broker_user,group]")  # fmt: skip
    prov.add_argument(
        "--config", type=Path, required=True, help="the base config every card starts from"
    )
    prov.add_argument(
        "--public-key", type=Path, required=True, help="from 'maskwatch fleet keygen'"
    )
    prov.add_argument(
        "--out", type=Path, required=True, help="folder for the cards' and broker's files"
    )
    prov.set_defaults(func=cmd_provision)

    publish = sub.add_parser("publish", help="sign a bundle and publish it once, for roll-outs")
    add_config(publish, True)  # the admin's: 'fleet provision' writes admin/maskwatch.toml
    publish.add_argument("--bundle", type=Path, required=True, help="bundle folder or .tar.gz")
    publish.add_argument("--version", required=True, help="the bundle's name in the fleet")
    publish.add_argument("--key", type=Path, required=True, help="the private key (fleet keygen)")
    publish.add_argument("--url", default="",
                         help="the .tar.gz URL devices fetch (default: MQTT chunks)")  # fmt: skip
    publish.set_defaults(func=cmd_publish)

    rollout = sub.add_parser("rollout", help="a published bundle to the canaries, then the rest")
    add_config(rollout, True)  # the admin's: 'fleet provision' writes admin/maskwatch.toml
    rollout.add_argument("--devices", type=Path, required=True, help="the device list (CSV)")
    rollout.add_argument("--version", required=True, help="a version 'fleet publish' published")
    rollout.add_argument("--timeout", type=float, default=900.0,
                         help="seconds each group may take to keep it (default: 900)")  # fmt: skip
    rollout.set_defaults(func=cmd_rollout)

    show = sub.add_parser("show", help="every device: online, bundle, roll-out, health")
    add_config(show, True)  # the admin's: 'fleet provision' writes admin/maskwatch.toml
    show.add_argument("--json", action="store_true", help="the retained topics as JSON")
    show.set_defaults(func=cmd_show)
