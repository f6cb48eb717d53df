#!/usr/bin/env bash
# systemd/wheelhouse.sh RELEASE DEST [ARCH]: the wheels of RELEASE's device set
# (systemd/releases) plus pip and setuptools (requirements/offline.txt), for that release's
# Python and glibc on ARCH (aarch64 unless given), downloaded into DEST: what
# 'systemd/install.sh' needs with WHEELHOUSE=DEST to install without a network.
# Used by make sd-card and make arm64-smoke.
set -euo pipefail
cd "$(dirname "$0")/.."

release=${1:?usage: systemd/wheelhouse.sh RELEASE DEST [ARCH]}
dest=${2:?usage: systemd/wheelhouse.sh RELEASE DEST [ARCH]}
arch=${3:-aarch64}
PY=${PY:-.venv/bin/python}

read -r python glibc requirements < <(awk -v r="$release" '$1 == r { print $2, $3, $4 }' systemd/releases) || true
if [ -z "${requirements:-}" ]; then
    echo "wheelhouse: error: unknown release '$release'; known: $(awk '!/^#/ && NF { print $1 }' systemd/releases | xargs)" >&2
    exit 1
fi
# Every manylinux tag the release's glibc runs (pip does not widen a given tag by itself).
platforms=(--platform "manylinux2014_$arch")
for minor in $(seq 17 "${glibc#*.}"); do platforms+=(--platform "manylinux_2_${minor}_$arch"); done
mkdir -p "$dest"
"$PY" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
    --implementation cp --python-version "$python" "${platforms[@]}" \
    -r "$requirements" -r requirements/offline.txt -d "$dest"
