#!/usr/bin/env bash
# 'make deploy HOST=pi@raspberrypi.local': copy the device part of the tree and the bundle
# to HOST over SSH, then run the installer there with sudo.
#   HOST        user@host for SSH, or a local directory (the same steps without SSH: what
#               the tests run)
#   REMOTE_DIR  where the files go on HOST (default: maskwatch-deploy in the login's home)
#   INSTALL_ENV variables for the installer there, e.g. "DESTDIR=/tmp/root" or
#               "REQUIREMENTS=requirements/device-tflite-runtime.txt"
set -euo pipefail
cd "$(dirname "$0")/.."

HOST=${1:?usage: systemd/deploy.sh user@host | /local/dir}
REMOTE_DIR=${REMOTE_DIR:-maskwatch-deploy}
INSTALL_ENV=${INSTALL_ENV:-}

[ -f bundle/manifest.json ] || { echo "deploy: no bundle/; run 'make bundle' first" >&2; exit 1; }
# shellcheck disable=SC2046  # the list's globs are meant to expand
read -r -a existing <<< "$(ls -d $(grep -v '^#' systemd/device-files) 2>/dev/null | tr '\n' ' ')"

if [[ $HOST == /* || $HOST == .* ]]; then
    on_host() { (mkdir -p "$HOST" && cd "$HOST" && bash -c "$1"); }
    dir=.
    sudo=""  # a local run installs as whoever runs it (into DESTDIR, in the tests)
else
    on_host() { ${SSH:-ssh} "$HOST" "$1"; }
    dir=$REMOTE_DIR
    sudo="sudo"
fi

echo "deploy: copying ${existing[*]} to $HOST"
tar --exclude='__pycache__' -czf - "${existing[@]}" |
    on_host "mkdir -p $dir && rm -rf $dir/edge $dir/bundle && tar -xzf - -C $dir"
echo "deploy: installing on $HOST"
# -t: sudo may ask for the password. Locally, the same command without SSH.
if [ -n "$sudo" ]; then
    ${SSH:-ssh} -t "$HOST" "cd $dir && sudo env $INSTALL_ENV systemd/install.sh"
else
    on_host "env $INSTALL_ENV systemd/install.sh"
fi
