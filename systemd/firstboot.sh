#!/usr/bin/env bash
# maskwatch's first-boot step, put on the boot partition by 'make sd-card' and run once, as
# root, by what the release uses for Raspberry Pi Imager's customisation: cloud-init's
# runcmd (trixie) or firstrun.sh (bookworm). From the folder it lies in
# (/boot/firmware/maskwatch): moves the owner's config (0640) and the broker's and the
# status page's passwords (0600) into /etc/maskwatch, removes them from the boot
# partition, installs maskwatch offline from the wheelhouse there (systemd/install.sh:
# user, venv, bundle, unit; it starts the service), then removes the rest of the folder. Its log: /var/log/maskwatch-firstboot.log.
# DESTDIR=/some/root does the same into that tree (the tests), starting nothing.
set -euo pipefail

DESTDIR=${DESTDIR:-}
root=${DESTDIR%/}
card=$(cd "$(dirname "$0")" && pwd)
log=$root/var/log/maskwatch-firstboot.log
mkdir -p "$(dirname "$log")"
exec > >(tee -a "$log") 2>&1
echo "maskwatch first boot: $(date -u +%FT%TZ), from $card"

# The secrets first: whatever happens next, they are no longer on the FAT partition,
# which every user (and any card reader) can read.
install -d -m 0750 "$root/etc/maskwatch"
for name in maskwatch.toml mqtt_password web_password; do
    [ -f "$card/$name" ] || continue
    mode=0600 && [ "$name" = maskwatch.toml ] && mode=0640
    install -m "$mode" "$card/$name" "$root/etc/maskwatch/$name"
    rm -f "$card/$name"
    echo "maskwatch first boot: moved $name to /etc/maskwatch (mode $mode)"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$card/device.tar.gz" -C "$work"
# The system is still booting (firstrun.sh runs before Imager's reboot, cloud-init's runcmd
# before boot completes): the installer queues the service's start instead of waiting.
(cd "$work" && WHEELHOUSE=$card/wheels DESTDIR=$DESTDIR NO_BLOCK=1 systemd/install.sh)
rm -rf "$card"
echo "maskwatch first boot: done; removed $card"
