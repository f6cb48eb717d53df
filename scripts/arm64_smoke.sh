#!/usr/bin/env bash
# 'make arm64-smoke': the device install on arm64 under emulation, once per Raspberry Pi OS
# release in systemd/releases (bookworm: Python 3.11, trixie: Python 3.13).
#
# Per release: an arm64 Debian root (debootstrap's first stage, every package unpacked,
# no maintainer scripts run) with that release's Python, numpy (apt) and libturbojpeg;
# simplejpeg built from its sdist against that numpy and libturbojpeg and put in
# dist-packages, the way Raspberry Pi OS ships python3-simplejpeg; beside it a stand-in
# for python3-picamera2 (the real one needs libcamera from the Raspberry Pi archive,
# which is out of reach here) that imports what picamera2 imports: numpy and simplejpeg.
# Then systemd/install.sh installs into that root exactly as 'make install' does (the set
# it picks from the root's /etc/os-release, a venv with --system-site-packages), offline
# from a wheelhouse as at make sd-card's first boot, run by the root's own Python through
# qemu-user (binfmt_misc). In the installed venv: simplejpeg
# encodes and decodes, the picamera2 source's import path works, and 'maskwatch detect'
# gives the same labels as x86 on a few held-out photos, per Pi CPU model. On bookworm the
# regression too: the same venv with numpy 2 cannot import simplejpeg, and 'maskwatch
# check' says why. As root (apt, binfmt_misc); slow (minutes), so not in 'make test'.
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=${WORK:-build/arm64}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PY=${PY:-.venv/bin/python}
RELEASES=${RELEASES:-bookworm trixie}
IMAGES=(maksssksksss128 maksssksksss150 maksssksksss169 maksssksksss236 maksssksksss482 maksssksksss515)  # held-out test scenes
DATA=${MASKWATCH_DATA:-../shared/datasets}
# The simplejpeg each release gets: 1.6.6 is what bookworm ships; its generated C predates
# Python 3.13, so trixie gets 1.7.6, the newest that still uses only the TurboJPEG 2 API
# of Debian's libturbojpeg 2.1.5 (1.8 needs TurboJPEG 3).
declare -A SIMPLEJPEG=([bookworm]=1.6.6 [trixie]=1.7.6)
PACKAGES=python3,python3-venv,python3-dev,python3-numpy,libturbojpeg0-dev,gcc,libc6-dev
mkdir -p "$WORK"
WORK=$(realpath "$WORK")

need() { command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ]; }
if ! need qemu-aarch64-static || ! need debootstrap; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static debootstrap
fi
# aarch64 binaries run through qemu by the kernel (binfmt_misc), so that pip and venv can
# start the root's Python as a subprocess.
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    [ -e /proc/sys/fs/binfmt_misc/register ] ||
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    grep "^:" /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register
fi

images=()
for name in "${IMAGES[@]}"; do images+=("$DATA/scenes-voc/images/$name.jpg"); done
"$PY" -m maskwatch detect --bundle bundle --json "$WORK/x86.jsonl" "${images[@]}"

make_root() {  # $1: release, $2: root
    [ -f "$2/.unpacked" ] && return
    echo "arm64: unpacking a $1 root in $2"
    rm -rf "$2"
    debootstrap --arch=arm64 --foreign --variant=minbase --include="$PACKAGES" \
        "$1" "$2" "$MIRROR" >/dev/null
    # The first stage leaves the packages it did not unpack in apt's cache: unpack them
    # all (no maintainer scripts are needed to run Python or gcc).
    for deb in "$2"/var/cache/apt/archives/*.deb; do
        dpkg-deb -x "$deb" "$2"
    done
    touch "$2/.unpacked"
}

# simplejpeg $2 from PyPI's sdist (sha256 checked), compiled in the root against apt's
# numpy headers and libturbojpeg into dist-packages, as python3-simplejpeg is.
build_simplejpeg() {  # $1: root, $2: version
    local dist=$1/usr/lib/python3/dist-packages src url python numpy_include
    [ -f "$dist/simplejpeg/.built-$2" ] && return
    url=$(curl -fsS https://pypi.org/simple/simplejpeg/ |
          grep -o "https://[^\"]*/simplejpeg-$2.tar.gz#sha256=[0-9a-f]*")
    curl -fsS "${url%#*}" -o "$WORK/simplejpeg-$2.tar.gz"
    echo "${url##*=}  $WORK/simplejpeg-$2.tar.gz" | sha256sum --quiet -c
    src=$1/tmp/simplejpeg-$2
    rm -rf "$src" && tar -xzf "$WORK/simplejpeg-$2.tar.gz" -C "$1/tmp"
    python=$(basename "$(readlink -f "$1/usr/bin/python3")")
    # Debian keeps them in numpy/core/include (bookworm) or /usr/lib/<triplet>/python3-numpy.
    numpy_include=$(dirname "$(dirname "$(find "$1/usr/lib" -path "*numpy/*core/include/numpy/numpyconfig.h" | head -n 1)")")
    echo "arm64: building simplejpeg $2 against apt's numpy $(numpy_version "$dist")"
    chroot "$1" gcc -O2 -Wno-cpp -shared -fPIC -I"/usr/include/$python" -I"${numpy_include#"$1"}" \
        "${src#"$1"}/simplejpeg/_jpeg.c" "${src#"$1"}/simplejpeg/_color.c" -lturbojpeg \
        -o "/tmp/_jpeg$(chroot "$1" "$python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
    rm -rf "$dist/simplejpeg" && mkdir -p "$dist/simplejpeg"
    cp "$src/simplejpeg/__init__.py" "$dist/simplejpeg/"
    mv "$1"/tmp/_jpeg.*.so "$dist/simplejpeg/"
    touch "$dist/simplejpeg/.built-$2"
    # The stand-in for python3-picamera2: its import chain, not a camera.
    mkdir -p "$dist/picamera2"
    printf '%s\n' '"""Stand-in for python3-picamera2: numpy and simplejpeg, as it imports them."""' \
        'import numpy  # noqa: F401' 'import simplejpeg  # noqa: F401' > "$dist/picamera2/__init__.py"
}

numpy_version() {  # $1: a site-packages folder; numpy's version, read without importing it
    sed -n 's/^Version: //p' "$1"/numpy-*.*-info/METADATA "$1"/numpy-*.egg-info/PKG-INFO \
        2>/dev/null | head -n 1
}

IMPORT_CHAIN='
import numpy, simplejpeg
from maskwatch.service.sources import require_picamera2
jpeg = simplejpeg.encode_jpeg(numpy.zeros((48, 64, 3), numpy.uint8))
print(f"import simplejpeg: ok (numpy {numpy.__version__}; a JPEG encoded and decoded back to "
      f"{simplejpeg.decode_jpeg(jpeg).shape})")
require_picamera2()
print("import picamera2 through maskwatch.service.sources.require_picamera2(): ok")
'

smoke() {  # $1: release
    local root=$WORK/root-$1 venv cpu started
    make_root "$1" "$root"
    build_simplejpeg "$root" "${SIMPLEJPEG[$1]}"
    # The installer works offline from a wheelhouse fetched here, as at make sd-card's first
    # boot. (Online, the venv's ensurepip copies Debian's pip wheel with shutil.copy2, whose
    # listxattr qemu-user does not redirect into the root: on trixie that fails.)
    PY=$PY systemd/wheelhouse.sh "$1" "$WORK/wheels-$1"
    export QEMU_LD_PREFIX=$root
    echo "arm64: $1: systemd/install.sh into $root, offline from $(ls "$WORK/wheels-$1" | wc -l) wheels"
    WHEELHOUSE=$WORK/wheels-$1 DESTDIR=$root PYTHON=$root/usr/bin/python3 systemd/install.sh
    venv=$root/opt/maskwatch/venv
    echo "arm64: $1: $("$venv/bin/python" -c 'import platform, sys; print(platform.machine(), "Python", sys.version.split()[0])'); apt's numpy $(numpy_version "$root/usr/lib/python3/dist-packages")"
    "$venv/bin/python" -c "$IMPORT_CHAIN"
    # The CPU models of a Pi 4, a Pi 5 and a Pi Zero 2 W. (qemu's default 'max' CPU claims
    # extensions no Pi has, and ai-edge-litert's int8 kernels for them come out wrong.)
    for cpu in cortex-a72 cortex-a76 cortex-a53; do
        echo "arm64: $1: maskwatch detect, qemu-aarch64 -cpu $cpu"
        started=$SECONDS
        QEMU_CPU=$cpu "$venv/bin/maskwatch" detect --bundle "$root/opt/maskwatch/bundle" \
            --json "$WORK/arm64-$1-$cpu.jsonl" "${images[@]}"
        echo "arm64: $((SECONDS - started)) s under emulation; compared with x86:"
        "$PY" scripts/compare_detections.py "$WORK/x86.jsonl" "$WORK/arm64-$1-$cpu.jsonl"
    done
    unset QEMU_LD_PREFIX
}

# The regression: bookworm's venv with numpy 2 (trixie's pin) cannot import apt's
# simplejpeg, and 'maskwatch check' names the two numpys and the fix.
numpy2_regression() {
    local root=$WORK/root-bookworm numpy2 copy output
    numpy2=$(sed -n 's/^numpy==//p' "$(awk '$1 == "trixie" { print $4 }' systemd/releases)")
    copy=$root/tmp/venv-numpy2
    export QEMU_LD_PREFIX=$root
    rm -rf "$copy" && cp -a "$root/opt/maskwatch/venv" "$copy"
    sed -i "s|$root/opt/maskwatch/venv|$copy|" "$copy"/bin/maskwatch
    "$copy/bin/python" -m pip install --quiet --disable-pip-version-check "numpy==$numpy2" 2>&1 |
        grep -v "opencv-python-headless .* requires numpy" || true
    echo "arm64: bookworm with numpy $numpy2 in the venv (the old pin):"
    if "$copy/bin/python" -c 'import simplejpeg' 2> "$WORK/numpy2.err"; then
        echo "arm64: FAIL: simplejpeg imported under numpy 2; the regression test shows nothing"
        exit 1
    fi
    tail -n 1 "$WORK/numpy2.err"
    output=$("$copy/bin/maskwatch" check --config config/device.toml \
        --set "bundle.path=$root/opt/maskwatch/bundle" --set mqtt.port=9 2>&1 || true)
    echo "$output" | grep '^source:'
    echo "$output" | grep -q '^source: FAIL, .*numpy' ||
        { echo "arm64: FAIL: maskwatch check did not diagnose the numpy mismatch"; exit 1; }
    unset QEMU_LD_PREFIX
}

for release in $RELEASES; do
    smoke "$release"
    [ "$release" = bookworm ] && numpy2_regression
done
echo "arm64: done: $RELEASES"
