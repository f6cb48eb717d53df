#!/usr/bin/env bash
# 'make arm64-smoke': the device code on arm64 under emulation, as far as x86 can go.
#
# An arm64 Debian bookworm root (debootstrap's first stage: packages unpacked, nothing
# run) gives an aarch64 Python 3.11; pip fetches the aarch64 wheels of the device
# requirements (ai-edge-litert set, then the tflite-runtime set with numpy < 2); Debian's
# qemu-user-static runs 'maskwatch detect' on a few real test photos, and the labels are
# compared with the same command on x86. Needs root (apt) and a Debian mirror; slow (a
# few minutes), so it is not part of 'make test'.
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=${WORK:-build/arm64}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PY=${PY:-.venv/bin/python}
IMAGES=(maksssksksss128 maksssksksss150 maksssksksss169 maksssksksss236 maksssksksss482 maksssksksss515)  # held-out test scenes
DATA=${MASKWATCH_DATA:-../shared/datasets}
mkdir -p "$WORK"
WORK=$(realpath "$WORK")
root=$WORK/root

need() { command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ]; }
if ! need qemu-aarch64-static || ! need debootstrap; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static debootstrap
fi

if [ ! -x "$root/usr/bin/python3.11" ]; then
    echo "arm64: unpacking a bookworm root in $root"
    rm -rf "$root"
    debootstrap --arch=arm64 --foreign --variant=minbase \
        --include=python3.11,libpython3.11-stdlib,libexpat1,zlib1g,libffi8,libssl3,libsqlite3-0,libbz2-1.0,liblzma5,libgcc-s1,libstdc++6 \
        bookworm "$root" "$MIRROR" >/dev/null
    # The first stage leaves the packages it did not unpack in apt's cache: unpack them
    # all (no maintainer scripts are needed to run Python).
    for deb in "$root"/var/cache/apt/archives/*.deb; do
        dpkg-deb -x "$deb" "$root"
    done
fi

images=()
for name in "${IMAGES[@]}"; do images+=("$DATA/scenes-voc/images/$name.jpg"); done

"$PY" -m edge.cli detect --bundle bundle --json "$WORK/x86.jsonl" "${images[@]}"

run_arm64() {  # $1: requirements file, $2: name
    local site=$WORK/site-$2-$(sha256sum "$1" | cut -c1-12)
    if [ ! -d "$site" ]; then
        "$PY" -m pip install --quiet --disable-pip-version-check --target "$site" \
            --platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64 \
            --platform manylinux_2_27_aarch64 --platform manylinux_2_28_aarch64 \
            --platform manylinux_2_34_aarch64 \
            --implementation cp --python-version 3.11 \
            --only-binary=:all: -r "$1"
    fi
    PYTHONPATH="$site:$PWD" PYTHONNOUSERSITE=1 qemu-aarch64-static -L "$root" \
        "$root/usr/bin/python3.11" -c 'import platform; print("arm64 python:", platform.machine())'
    # The CPU models of a Pi 4, a Pi 5 and a Pi Zero 2 W. (qemu's default 'max' CPU claims
    # extensions no Pi has, and ai-edge-litert's int8 kernels for them come out wrong.)
    for cpu in cortex-a72 cortex-a76 cortex-a53; do
        echo "arm64: maskwatch detect, $2, qemu-aarch64 -cpu $cpu"
        local started=$SECONDS
        QEMU_CPU=$cpu PYTHONPATH="$site:$PWD" PYTHONNOUSERSITE=1 qemu-aarch64-static \
            -L "$root" "$root/usr/bin/python3.11" -m edge.cli detect --bundle bundle \
            --runtime "$2" --json "$WORK/arm64-$2-$cpu.jsonl" "${images[@]}"
        echo "arm64: $((SECONDS - started)) s under emulation; compared with x86:"
        "$PY" scripts/compare_detections.py "$WORK/x86.jsonl" "$WORK/arm64-$2-$cpu.jsonl"
    done
}

run_arm64 requirements/device.txt ai-edge-litert
run_arm64 requirements/device-tflite-runtime.txt tflite-runtime
