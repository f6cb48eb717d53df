"""``maskwatch fleet ...``: for whoever looks after a fleet of devices (docs/fleet.md)."""

import argparse
from pathlib import Path

from maskwatch.core.signing import make_key_pair
from maskwatch.service.provision import provision


def cmd_keygen(args: argparse.Namespace) -> int:
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


def add_fleet_commands(commands: argparse._SubParsersAction) -> None:
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
