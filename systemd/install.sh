#!/usr/bin/env bash
# Install (or remove) maskwatch as a systemd service. Run from the source tree, as root:
#   systemd/install.sh             install, enable and start; safe to run again
#   systemd/install.sh --uninstall remove all but the config and the event queue
#   PURGE=1 systemd/install.sh --uninstall   remove those too, and the user
# DESTDIR=/some/root installs into that tree instead: no root needed, nothing is started,
# and the user is created in DESTDIR's own /etc/passwd.
# The pinned device set is the one for the target's release (systemd/releases), read from
# its /etc/os-release (DESTDIR's when it has one); REQUIREMENTS=file overrides the choice.
# WHEELHOUSE=dir installs from that folder only, offline (make sd-card puts one on the card).
# NO_BLOCK=1 queues the service's start instead of waiting for it (the first boot does).
set -euo pipefail

DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/opt/maskwatch}
CONFDIR=${CONFDIR:-/etc/maskwatch}
UNITDIR=${UNITDIR:-/etc/systemd/system}
SYSUSERSDIR=${SYSUSERSDIR:-/usr/lib/sysusers.d}
STATEDIR=${STATEDIR:-/var/lib/maskwatch}
PYTHON=${PYTHON:-python3}
REQUIREMENTS=${REQUIREMENTS:-}
WHEELHOUSE=${WHEELHOUSE:-}
NO_BLOCK=${NO_BLOCK:-0}
BUNDLE=${BUNDLE:-bundle}
SERVICE=maskwatch.service

cd "$(dirname "$0")/.."
root=${DESTDIR%/}
changed=0

say() { echo "maskwatch install: $*"; }
die() { echo "maskwatch install: error: $*" >&2; exit 1; }

# The release of the target: its root's os-release, else this machine's.
release_codename() {
    local file=/etc/os-release
    [ -f "$root/etc/os-release" ] && file=$root/etc/os-release
    (. "$file" && echo "${VERSION_CODENAME:-unknown}")
}

# REQUIREMENTS from systemd/releases for this release, after checking that PYTHON is the
# Python the set was pinned for.
choose_requirements() {
    [ -n "$REQUIREMENTS" ] && return
    local codename want have supported
    codename=$(release_codename)
    supported=$(awk '!/^#/ && NF { printf "%s%s (Python %s)", sep, $1, $2; sep = ", " }' systemd/releases)
    read -r want REQUIREMENTS < <(awk -v r="$codename" '$1 == r { print $2, $4 }' systemd/releases) || true
    [ -n "$REQUIREMENTS" ] ||
        die "release '$codename' is not supported; maskwatch installs on Raspberry Pi OS $supported"
    have=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])') ||
        die "cannot run $PYTHON"
    [ "$have" = "$want" ] ||
        die "$codename's device set is pinned for Python $want, but $PYTHON is Python $have; run with PYTHON=python$want"
}

# Copy a file only when its content or mode differs, so a second run changes nothing.
put() {
    local mode=$1 src=$2 dst=$root$3
    if [ -f "$dst" ] && cmp -s "$src" "$dst" && [ "$(stat -c %a "$dst")" = "${mode#0}" ]; then
        return
    fi
    install -D -m "$mode" "$src" "$dst"
    changed=1
    say "installed $3"
}

# The group id of the service user, read from the target's own /etc/group.
service_gid() { awk -F: '$1 == "maskwatch" { print $3 }' "$root/etc/group"; }

install_user() {
    put 0644 systemd/maskwatch.sysusers "$SYSUSERSDIR/maskwatch.conf"
    if [ -n "$root" ]; then
        mkdir -p "$root/etc"
        systemd-sysusers --root="$root" "$root$SYSUSERSDIR/maskwatch.conf"
    else
        systemd-sysusers "$SYSUSERSDIR/maskwatch.conf"
    fi
}

# pip in the venv; with a WHEELHOUSE, from that folder only.
venv_pip() {
    "$1/bin/python" -m pip install --quiet --disable-pip-version-check \
        ${WHEELHOUSE:+--no-index --find-links "$WHEELHOUSE"} "${@:2}"
}

# A new venv. Offline, pip comes from the wheelhouse's own pip wheel (run from the wheel
# itself), so the system's ensurepip (python3-venv) is not needed.
make_venv() {
    local venv=$1 pip_wheel
    if [ -z "$WHEELHOUSE" ]; then
        "$PYTHON" -m venv --system-site-packages "$venv" ||
            die "cannot create a venv with $PYTHON; install python3-venv (apt)"
        return
    fi
    pip_wheel=$(find "$WHEELHOUSE" -maxdepth 1 -name 'pip-*.whl' | head -n 1)
    [ -n "$pip_wheel" ] || die "no pip wheel in $WHEELHOUSE; rebuild the card with make sd-card"
    "$PYTHON" -m venv --system-site-packages --without-pip "$venv" ||
        die "cannot create a venv with $PYTHON"
    "$venv/bin/python" "$pip_wheel/pip" install --quiet --disable-pip-version-check \
        --no-index --find-links "$WHEELHOUSE" pip || die "cannot install pip from $WHEELHOUSE"
}

# The virtual environment: --system-site-packages so that Raspberry Pi OS's apt-installed
# python3-picamera2 and libcamera are visible. Reinstalled only when what goes in changed.
install_venv() {
    local venv=$root$PREFIX/venv stamp
    stamp=$( (cat "$REQUIREMENTS" pyproject.toml setup.py; find edge -name '*.py' -print0 | sort -z |
              xargs -0 cat) | sha256sum | cut -d' ' -f1)
    if [ -f "$venv/.maskwatch-stamp" ] && [ "$(cat "$venv/.maskwatch-stamp")" = "$stamp" ]; then
        return
    fi
    [ -x "$venv/bin/python" ] || make_venv "$venv"
    venv_pip "$venv" -r "$REQUIREMENTS" ||
        die "pip could not install $REQUIREMENTS (on a 32-bit OS, use REQUIREMENTS=requirements/device-tflite-runtime.txt; see the README)"
    venv_pip "$venv" --no-deps . || die "pip could not install maskwatch itself"
    echo "$stamp" > "$venv/.maskwatch-stamp"
    changed=1
    say "installed the virtual environment in $PREFIX/venv from $REQUIREMENTS"
}

install_bundle() {
    [ -f "$BUNDLE/manifest.json" ] || die "no bundle at $BUNDLE; build it with 'make bundle' first"
    local file
    for file in "$BUNDLE"/*; do
        put 0644 "$file" "$PREFIX/bundle/$(basename "$file")"
    done
    put 0644 README.md "$PREFIX/README.md"
    put 0755 systemd/maskwatch-check "$PREFIX/bin/maskwatch-check"
}

# The config and the password files are the owner's: created once, never overwritten, and
# readable by root and the service's group only (the passwords by root only: systemd hands
# them to the service as credentials).
install_config() {
    local gid
    gid=$(service_gid)
    mkdir -p "$root$CONFDIR"
    chmod 0750 "$root$CONFDIR"
    if [ ! -f "$root$CONFDIR/maskwatch.toml" ]; then
        install -m 0640 config/device.toml "$root$CONFDIR/maskwatch.toml"
        changed=1
        say "installed $CONFDIR/maskwatch.toml: edit it, then run $PREFIX/bin/maskwatch-check"
    fi
    local secret
    for secret in mqtt_password web_password; do
        if [ ! -f "$root$CONFDIR/$secret" ]; then
            install -m 0600 /dev/null "$root$CONFDIR/$secret"
            changed=1
            say "created $CONFDIR/$secret (empty: no password)"
        fi
    done
    if [ "$(id -u)" = 0 ] && [ -n "$gid" ]; then
        chgrp "$gid" "$root$CONFDIR" "$root$CONFDIR/maskwatch.toml"
    fi
    mkdir -p "$root$STATEDIR"
}

install_unit() {
    put 0644 systemd/maskwatch.service "$UNITDIR/$SERVICE"
    if [ -n "$root" ]; then
        systemctl --root="$root" --quiet enable "$SERVICE"
        return
    fi
    systemctl daemon-reload
    systemctl --quiet enable "$SERVICE"
    if [ "$NO_BLOCK" = 1 ]; then
        systemctl restart --no-block "$SERVICE"
        say "queued the start of $SERVICE; follow it with: journalctl -u maskwatch -f"
    elif [ "$changed" = 1 ] || ! systemctl --quiet is-active "$SERVICE"; then
        systemctl restart "$SERVICE"
        say "started $SERVICE; follow it with: journalctl -u maskwatch -f"
    fi
}

uninstall() {
    if [ -n "$root" ]; then
        systemctl --root="$root" --quiet disable "$SERVICE" 2>/dev/null || true
    else
        systemctl --quiet disable --now "$SERVICE" 2>/dev/null || true
    fi
    rm -rf "$root$PREFIX" "$root$UNITDIR/$SERVICE"
    [ -z "$root" ] && systemctl daemon-reload
    if [ "${PURGE:-0}" = 1 ]; then
        rm -rf "$root$CONFDIR" "$root$STATEDIR" "$root$SYSUSERSDIR/maskwatch.conf"
        if [ -n "$root" ]; then
            userdel --root "$root" maskwatch 2>/dev/null || true
        else
            userdel maskwatch 2>/dev/null || true
        fi
        say "removed maskwatch, its config, its queue and its user"
    else
        say "removed maskwatch; kept $CONFDIR and $STATEDIR (PURGE=1 removes them)"
    fi
}

if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
    die "run as root (sudo make install), or set DESTDIR to install into a staging tree"
fi
if [ "${1:-}" = --uninstall ]; then
    uninstall
    exit 0
fi
choose_requirements
install_user
install_venv
install_bundle
install_config
install_unit
if [ "$changed" = 0 ]; then
    say "already installed; nothing changed"
fi
