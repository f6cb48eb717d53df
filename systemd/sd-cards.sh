#!/usr/bin/env bash
# 'make sd-card DEVICES=devices.csv CONFIG=base.toml PUBLIC_KEY=fleet.pub BOOT=...': a fleet's
# cards, one at a time, each with its own device_id and broker password.
#   DEVICES     CSV: device_id[,site,broker_user,group] (docs/fleet.md)
#   CONFIG      the base config every card starts from (config/device.toml)
#   PUBLIC_KEY  the fleet's public key, from 'maskwatch fleet keygen'
#   FLEET       where the cards' configs, passwords and the broker's files go (default: fleet)
#   BOOT        the boot partition; it is asked for each card in turn. A path holding
#               {device} names one FAT image per device instead (no questions asked).
# First 'maskwatch fleet provision' (passwords made once, kept in FLEET), then
# systemd/sd-card.sh once per card, then the broker's side: FLEET/broker/.
set -euo pipefail
cd "$(dirname "$0")/.."

BOOT=${1:?usage: systemd/sd-cards.sh BOOT}
DEVICES=${DEVICES:?set DEVICES to the device list (CSV)}
CONFIG=${CONFIG:?set CONFIG to the base maskwatch.toml (start from config/device.toml)}
PUBLIC_KEY=${PUBLIC_KEY:?set PUBLIC_KEY to the public key from maskwatch fleet keygen}
FLEET=${FLEET:-fleet}
PY=${PY:-.venv/bin/python}

"$PY" -m maskwatch fleet provision --devices "$DEVICES" --config "$CONFIG" \
    --public-key "$PUBLIC_KEY" --out "$FLEET"
ids=$("$PY" -c 'import sys; from pathlib import Path
from maskwatch.service.provision import read_devices
print(" ".join(d.device_id for d in read_devices(Path(sys.argv[1]))))' "$DEVICES")
for id in $ids; do
    card=${BOOT//\{device\}/$id}
    if [ "$card" = "$BOOT" ]; then
        read -r -p "sd-cards: put in the card for $id (boot partition at $BOOT), then press Enter " _
    fi
    echo "sd-cards: $id"
    CONFIG=$FLEET/devices/$id/maskwatch.toml PASSWORD_FILE=$FLEET/devices/$id/mqtt_password \
        PY=$PY systemd/sd-card.sh "$card"
done
echo "sd-cards: the broker's side: copy $FLEET/broker/passwd to /etc/mosquitto/maskwatch-passwd,"
echo "sd-cards: $FLEET/broker/acl to /etc/mosquitto/maskwatch-acl and $FLEET/broker/maskwatch-fleet.conf"
echo "sd-cards: to /etc/mosquitto/conf.d/, then: systemctl reload mosquitto"
