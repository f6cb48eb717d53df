#!/usr/bin/env bash
# 'make sd-card BOOT=/media/you/bootfs CONFIG=my.toml [PASSWORD_FILE=file]
# [WEB_PASSWORD_FILE=file]': after Raspberry Pi Imager has written Raspberry Pi OS (with its
# OS customisation: user, Wi-Fi, SSH), put maskwatch on the card's boot partition so that
# the Pi installs it at first boot, offline.
#   BOOT               the mounted boot partition, or a FAT image of it (written with mtools)
#   CONFIG             the owner's maskwatch.toml (checked here first, as 'maskwatch run' would)
#   PASSWORD_FILE      the broker password (optional; none means no password)
#   WEB_PASSWORD_FILE  the status page's password: needed when [web] listens off loopback
#   RELEASE            bookworm or trixie; found from the partition when not given
#   WHEEL_ARCH         the wheelhouse's architecture (aarch64; the tests use x86_64)
# It writes maskwatch/ there (the device part, the bundle, a wheelhouse for the release's
# Python, the config, the passwords and systemd/firstboot.sh), and hooks firstboot.sh into
# what the release runs at first boot: cloud-init's user-data (trixie) or Imager's
# firstrun.sh (bookworm). Everything is checked before anything is written, and a failure
# while writing removes what was written: the passwords never stay on the FAT partition
# (readable by every user of the Pi, and by any card reader) without the step that moves
# them off it at first boot.
set -euo pipefail
cd "$(dirname "$0")/.."

BOOT=${1:?usage: systemd/sd-card.sh BOOT (the mounted boot partition, or a FAT image)}
CONFIG=${CONFIG:?set CONFIG to your maskwatch.toml (start from config/device.toml)}
PASSWORD_FILE=${PASSWORD_FILE:-}
WEB_PASSWORD_FILE=${WEB_PASSWORD_FILE:-}
RELEASE=${RELEASE:-}
WHEEL_ARCH=${WHEEL_ARCH:-aarch64}
PY=${PY:-.venv/bin/python}
CARD_DIR=/boot/firmware/maskwatch  # where the Pi sees the folder
HOOK="bash $CARD_DIR/firstboot.sh"
# Raspberry Pi OS's own first boot (raspberrypi-sys-mods) takes this out of cmdline.txt:
# a card without it has booted, and its first-boot steps (cloud-init's runcmd, once per
# instance; firstrun.sh, which deletes itself) will not run again.
FIRST_BOOT_INIT=init=/usr/lib/raspberrypi-sys-mods/firstboot

say() { echo "sd-card: $*"; }
die() { echo "sd-card: error: $*" >&2; exit 1; }

# The boot partition as a folder or a FAT image: list, read and write files in it.
if [ -d "$BOOT" ]; then
    boot_has() { [ -f "$BOOT/$1" ]; }
    boot_read() { cat "$BOOT/$1"; }
    boot_write() { cp "$2" "$BOOT/$1"; }
    boot_remove_dir() { rm -rf "${BOOT:?}/$1"; }
    boot_copy_dir() { boot_remove_dir "$2" && cp -r "$1" "$BOOT/$2"; }
elif [ -f "$BOOT" ]; then
    command -v mcopy >/dev/null || die "$BOOT is an image: writing it needs mtools (apt install mtools)"
    export MTOOLS_SKIP_CHECK=1  # a partition cut out of a card image need not fit mtools' geometry
    boot_has() { mdir -i "$BOOT" "::/$1" >/dev/null 2>&1; }
    boot_read() { mtype -i "$BOOT" "::/$1"; }
    boot_write() { mcopy -o -i "$BOOT" "$2" "::/$1"; }
    boot_remove_dir() { if boot_has_dir "$1"; then mdeltree -i "$BOOT" "::/$1"; fi; }
    boot_has_dir() { mdir -i "$BOOT" "::/$1" >/dev/null 2>&1; }
    boot_copy_dir() { boot_remove_dir "$2" && mcopy -s -i "$BOOT" "$1" "::/$2"; }
else
    die "BOOT=$BOOT is neither the mounted boot partition nor a FAT image"
fi
boot_has config.txt || die "$BOOT has no config.txt: not a Raspberry Pi OS boot partition"
boot_has cmdline.txt || die "$BOOT has no cmdline.txt: not a Raspberry Pi OS boot partition"
boot_read cmdline.txt | grep -qF "$FIRST_BOOT_INIT" ||
    die "$BOOT has booted already ($FIRST_BOOT_INIT is gone from cmdline.txt): its first-boot steps will not run again, so maskwatch would not be installed and the passwords would stay on the boot partition; write the card again with Raspberry Pi Imager, then run this"

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
[ -z "$PASSWORD_FILE" ] || [ -f "$PASSWORD_FILE" ] || die "PASSWORD_FILE=$PASSWORD_FILE: no such file"
[ -z "$WEB_PASSWORD_FILE" ] || [ -s "$WEB_PASSWORD_FILE" ] ||
    die "WEB_PASSWORD_FILE=$WEB_PASSWORD_FILE: no such file, or empty"
# The config as 'maskwatch run' reads it, and a page reachable off loopback with the
# password the card carries (the device reads no file from this machine).
"$PY" -m maskwatch.service.card_check "$CONFIG" "$WEB_PASSWORD_FILE" || exit 1

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# The hook, once: a runcmd entry in cloud-init's user-data, or a line in Imager's
# firstrun.sh before it deletes itself; made here, written after the payload.
if [ "$RELEASE" = trixie ]; then hook_file=user-data; else hook_file=firstrun.sh; fi
boot_has "$hook_file" || die "$BOOT has no $hook_file (RELEASE=$RELEASE): write the card with Imager's OS customisation"
boot_read "$hook_file" > "$stage/original"
cp "$stage/original" "$stage/hooked"
if [ "$RELEASE" = trixie ]; then
    if ! grep -qF "$CARD_DIR/firstboot.sh" "$stage/original"; then
        awk -v entry="[bash, $CARD_DIR/firstboot.sh]" -f systemd/add-runcmd.awk \
            "$stage/original" > "$stage/hooked" || die "cannot add the first-boot step to user-data"
    fi
    hooked_note="user-data: runcmd runs $CARD_DIR/firstboot.sh at first boot"
else
    if ! grep -qF "$HOOK" "$stage/original"; then
        awk -v hook="$HOOK" '/^rm -f \/boot\/(firmware\/)?firstrun\.sh/ && !done { print hook; done = 1 }
            { print } END { exit !done }' "$stage/original" > "$stage/hooked" ||
            die "firstrun.sh does not end the way Imager writes it (rm -f /boot/firstrun.sh)"
    fi
    hooked_note="firstrun.sh: runs $CARD_DIR/firstboot.sh at first boot"
fi

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
if [ -n "$WEB_PASSWORD_FILE" ]; then cp "$WEB_PASSWORD_FILE" "$payload/web_password"; fi

# Writing: a failure from here takes back what was written.
undo() {
    boot_remove_dir maskwatch || echo "sd-card: error: could not remove maskwatch/ from $BOOT: delete it by hand, it holds the passwords" >&2
    boot_write "$hook_file" "$stage/original" || echo "sd-card: error: could not restore $hook_file on $BOOT" >&2
}
trap 'status=$?; if [ "$status" -ne 0 ]; then echo "sd-card: error: writing the card failed; removing what was written" >&2; undo; fi; rm -rf "$stage"' EXIT
boot_copy_dir "$payload" maskwatch
cmp -s "$stage/original" "$stage/hooked" || boot_write "$hook_file" "$stage/hooked"
say "$hooked_note"
say "done: put the card in the Pi; the first boot installs maskwatch (offline) and starts it"
say "the config and passwords leave the boot partition then; follow it with journalctl -u maskwatch -f"
