#!/usr/bin/env bash
# 'make sd-card BOOT=/media/you/bootfs CONFIG=my.toml [PASSWORD_FILE=file]': after Raspberry
# Pi Imager has written Raspberry Pi OS (with its OS customisation: user, Wi-Fi, SSH), put
# maskwatch on the card's boot partition so that the Pi installs it at first boot, offline.
#   BOOT           the mounted boot partition, or a FAT image of it (written with mtools)
#   CONFIG         the owner's maskwatch.toml (checked here first)
#   PASSWORD_FILE  the broker password (optional; none means no password)
#   RELEASE        bookworm or trixie; found from the partition when not given
#   WHEEL_ARCH     the wheelhouse's architecture (aarch64; the tests use x86_64)
# It writes maskwatch/ there (the device part, the bundle, a wheelhouse for the release's
# Python, the config, the password and systemd/firstboot.sh), and hooks firstboot.sh into
# what the release runs at first boot: cloud-init's user-data (trixie) or Imager's
# firstrun.sh (bookworm).
set -euo pipefail
cd "$(dirname "$0")/.."

BOOT=${1:?usage: systemd/sd-card.sh BOOT (the mounted boot partition, or a FAT image)}
CONFIG=${CONFIG:?set CONFIG to your maskwatch.toml (start from config/device.toml)}
PASSWORD_FILE=${PASSWORD_FILE:-}
RELEASE=${RELEASE:-}
WHEEL_ARCH=${WHEEL_ARCH:-aarch64}
PY=${PY:-.venv/bin/python}
CARD_DIR=/boot/firmware/maskwatch  # where the Pi sees the folder
HOOK="bash $CARD_DIR/firstboot.sh"

say() { echo "sd-card: $*"; }
die() { echo "sd-card: error: $*" >&2; exit 1; }

# The boot partition as a folder or a FAT image: list, read and write files in it.
if [ -d "$BOOT" ]; then
    boot_has() { [ -f "$BOOT/$1" ]; }
    boot_read() { cat "$BOOT/$1"; }
    boot_write() { cp "$2" "$BOOT/$1"; }
    boot_copy_dir() { rm -rf "${BOOT:?}/$2" && cp -r "$1" "$BOOT/$2"; }
elif [ -f "$BOOT" ]; then
    command -v mcopy >/dev/null || die "$BOOT is an image: writing it needs mtools (apt install mtools)"
    export MTOOLS_SKIP_CHECK=1  # a partition cut out of a card image need not fit mtools' geometry
    boot_has() { mdir -i "$BOOT" "::/$1" >/dev/null 2>&1; }
    boot_read() { mtype -i "$BOOT" "::/$1"; }
    boot_write() { mcopy -o -i "$BOOT" "$2" "::/$1"; }
    boot_copy_dir() { mdeltree -i "$BOOT" "::/$2" 2>/dev/null || true; mcopy -s -i "$BOOT" "$1" "::/$2"; }
else
    die "BOOT=$BOOT is neither the mounted boot partition nor a FAT image"
fi
boot_has config.txt || die "$BOOT has no config.txt: not a Raspberry Pi OS boot partition"

if [ -z "$RELEASE" ]; then
    if boot_has user-data; then RELEASE=trixie
    elif boot_has firstrun.sh; then RELEASE=bookworm
    else
        die "$BOOT has neither user-data (trixie, cloud-init) nor firstrun.sh (bookworm): write the card with Raspberry Pi Imager's OS customisation (user, Wi-Fi, SSH) turned on, then run this again"
    fi
fi
python=$(awk -v r="$RELEASE" '$1 == r { print $2 }' systemd/releases)
[ -n "$python" ] || die "RELEASE=$RELEASE is not one of: $(awk '!/^#/ && NF { print $1 }' systemd/releases | xargs)"

[ -f bundle/manifest.json ] || die "no bundle/; run 'make bundle' first"
[ -f "$CONFIG" ] || die "CONFIG=$CONFIG: no such file"
"$PY" -c 'import sys; from pathlib import Path; from maskwatch.core.config import load_config
from maskwatch.core.errors import MaskwatchError
try:
    load_config(Path(sys.argv[1]))
except MaskwatchError as error:
    sys.exit(f"sd-card: error: {error}")' "$CONFIG"
[ -z "$PASSWORD_FILE" ] || [ -f "$PASSWORD_FILE" ] || die "PASSWORD_FILE=$PASSWORD_FILE: no such file"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
payload=$stage/maskwatch
mkdir -p "$payload/wheels"
say "$RELEASE (Python $python): the device part, the bundle and a $WHEEL_ARCH wheelhouse"
# shellcheck disable=SC2046  # the list's globs are meant to expand
tar --exclude=__pycache__ -czf "$payload/device.tar.gz" $(ls -d $(grep -v '^#' systemd/device-files))
PY=$PY systemd/wheelhouse.sh "$RELEASE" "$payload/wheels" "$WHEEL_ARCH" ||
    die "pip could not download the wheels for $RELEASE"
cp systemd/firstboot.sh "$payload/"
cp "$CONFIG" "$payload/maskwatch.toml"
if [ -n "$PASSWORD_FILE" ]; then cp "$PASSWORD_FILE" "$payload/mqtt_password"; fi
boot_copy_dir "$payload" maskwatch

# The hook, once: a runcmd entry in cloud-init's user-data, or a line in Imager's
# firstrun.sh before it deletes itself.
hooked=$stage/hooked
if [ "$RELEASE" = trixie ]; then
    boot_has user-data || die "$BOOT has no user-data: write the card with Imager's OS customisation"
    boot_read user-data > "$stage/user-data"
    if ! grep -qF "$CARD_DIR/firstboot.sh" "$stage/user-data"; then
        awk -v entry="[bash, $CARD_DIR/firstboot.sh]" -f systemd/add-runcmd.awk \
            "$stage/user-data" > "$hooked" || die "cannot add the first-boot step to user-data"
        boot_write user-data "$hooked"
    fi
    say "user-data: runcmd runs $CARD_DIR/firstboot.sh at first boot"
else
    boot_has firstrun.sh || die "$BOOT has no firstrun.sh: write the card with Imager's OS customisation"
    boot_read firstrun.sh > "$stage/firstrun.sh"
    if ! grep -qF "$HOOK" "$stage/firstrun.sh"; then
        awk -v hook="$HOOK" '/^rm -f \/boot\/(firmware\/)?firstrun\.sh/ && !done { print hook; done = 1 }
            { print } END { exit !done }' "$stage/firstrun.sh" > "$hooked" ||
            die "firstrun.sh does not end the way Imager writes it (rm -f /boot/firstrun.sh)"
        boot_write firstrun.sh "$hooked"
    fi
    say "firstrun.sh: runs $CARD_DIR/firstboot.sh at first boot"
fi
say "done: put the card in the Pi; the first boot installs maskwatch (offline) and starts it"
say "the config and password leave the boot partition then; follow it with journalctl -u maskwatch -f"
