"""``make sd-card`` against FAT images of a boot partition as Raspberry Pi Imager leaves it
(made and read with mtools, nothing mounted): trixie's cloud-init user-data gains the
first-boot step and stays valid (``cloud-init schema``); bookworm's firstrun.sh gains it,
and the first-boot step, run into a staging root (DESTDIR) from a copy of the partition,
installs maskwatch offline from the card's wheelhouse and leaves no secret behind."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_releases import RELEASES

# As Raspberry Pi Imager writes them (user, host name, SSH, keyboard), abridged.
IMAGER_USER_DATA = """#cloud-config
hostname: maskpi
manage_etc_hosts: true
users:
- name: pi
  groups: users,adm,dialout,audio,netdev,video,plugdev,cdrom,games,input,gpio,spi,i2c,render,sudo
  shell: /bin/bash
  lock_passwd: false
  passwd: $5$Yl8qfy2kJd$0W6gmxNHxAmRXW2lOyC4XldRvjv9yZLbZHFj3mFqgQ1
ssh_pwauth: true
timezone: Europe/London
runcmd:
- localectl set-x11-keymap "gb" pc105
- setupcon -k --force || true
"""
IMAGER_FIRSTRUN = """#!/bin/bash

set +e

CURRENT_HOSTNAME=`cat /etc/hostname | tr -d " \\t\\n\\r"`
echo maskpi >/etc/hostname
sed -i "s/127.0.1.1.*$CURRENT_HOSTNAME/127.0.1.1\\tmaskpi/g" /etc/hosts
systemctl enable ssh
rm -f /boot/firstrun.sh
sed -i 's| systemd.run.*||g' /boot/cmdline.txt
exit 0
"""
CMDLINE = "console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait\n"
PASSWORD = "s3cret-broker-password"
HOOK = "/boot/firmware/maskwatch/firstboot.sh"


def need(command: str, package: str) -> None:
    if not shutil.which(command):
        pytest.fail(f"{command} is missing: apt-get install {package} (make system-deps)")


def fat_image(path: Path, files: dict[str, str]) -> Path:
    """A FAT32 boot partition image holding ``files``, as Imager leaves the card."""
    need("mformat", "mtools")
    with path.open("wb") as image:
        image.truncate(400 * 1024 * 1024)
    subprocess.run(["mformat", "-i", str(path), "-F", "-v", "bootfs", "::"], check=True)
    source = path.parent / "imager"
    source.mkdir()
    for name, text in {"config.txt": "camera_auto_detect=1\n", **files}.items():
        (source / name).write_text(text)
        subprocess.run(["mcopy", "-i", str(path), str(source / name), f"::/{name}"], check=True)
    return path


def owner_files(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "owner.toml"
    config.write_text(
        (ROOT / "config/device.toml")
        .read_text()
        .replace('device_id = "front-door"', 'device_id = "porch"')
        .replace('username = ""', 'username = "maskwatch"')
    )
    password = tmp_path / "password"
    password.write_text(PASSWORD)
    return config, password


def sd_card(image: Path, config: Path, password: Path | None = None, **env: str):
    args = ["make", "--no-print-directory", "sd-card", f"BOOT={image}", f"CONFIG={config}"]
    if password:
        args.append(f"PASSWORD_FILE={password}")
    return subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, **env}
    )


def read_from(image: Path, name: str) -> str:
    return subprocess.run(
        ["mtype", "-i", str(image), f"::/{name}"], capture_output=True, text=True, check=True
    ).stdout


def listing(image: Path, folder: str) -> list[str]:
    result = subprocess.run(
        ["mdir", "-b", "-i", str(image), f"::/{folder}"], capture_output=True, text=True, check=True
    )
    return sorted(Path(line).name for line in result.stdout.split())


def cloud_init_schema(path: Path, text: str) -> subprocess.CompletedProcess:
    need("cloud-init", "cloud-init")
    path.write_text(text)
    return subprocess.run(
        ["cloud-init", "schema", "--config-file", str(path)], capture_output=True, text=True
    )


def test_trixie_card_gets_the_payload_and_a_valid_cloud_init_step(tmp_path):
    image = fat_image(tmp_path / "bootfs.img", {"user-data": IMAGER_USER_DATA,
                                                "meta-data": "instance_id: rpios\n"})  # fmt: skip
    config, password = owner_files(tmp_path)
    result = sd_card(image, config, password)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sd-card: trixie (Python 3.13)" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr

    user_data = read_from(image, "user-data")
    assert user_data == IMAGER_USER_DATA + f"- [bash, {HOOK}]\n"  # Imager's steps kept, ours last
    schema = cloud_init_schema(tmp_path / "user-data", user_data)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    assert schema.stdout.startswith("Valid")
    broken = cloud_init_schema(tmp_path / "broken", user_data.replace("- [bash,", "  bash: ["))
    assert broken.returncode != 0, broken.stdout  # the validator does reject a broken runcmd

    assert listing(image, "maskwatch") == sorted(
        ["device.tar.gz", "firstboot.sh", "maskwatch.toml", "mqtt_password", "wheels"]
    )
    assert read_from(image, "maskwatch/maskwatch.toml") == config.read_text()
    wheels = listing(image, "maskwatch/wheels")
    numpy = RELEASES["trixie"].pins()["numpy"]
    assert any(w.startswith(f"numpy-{numpy}-cp313-") and "aarch64" in w for w in wheels), wheels
    assert any(w.startswith("ai_edge_litert-") and "cp313" in w for w in wheels), wheels
    for offline in ("pip-", "setuptools-"):  # to bootstrap the venv and build maskwatch
        assert any(w.startswith(offline) for w in wheels), wheels

    again = sd_card(image, config, password)  # a second run does not add a second step
    assert again.returncode == 0, again.stderr
    assert read_from(image, "user-data") == user_data


def test_bookworm_card_first_boot_installs_offline_and_leaves_no_secret(tmp_path):
    image = fat_image(tmp_path / "bootfs.img", {"firstrun.sh": IMAGER_FIRSTRUN,
                                                "cmdline.txt": CMDLINE})  # fmt: skip
    config, password = owner_files(tmp_path)
    # The wheelhouse for this machine (x86_64), so that the first boot can run here.
    result = sd_card(image, config, password, WHEEL_ARCH="x86_64")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sd-card: bookworm (Python 3.11)" in result.stdout
    firstrun = read_from(image, "firstrun.sh")
    assert firstrun == IMAGER_FIRSTRUN.replace(
        "rm -f /boot/firstrun.sh", f"bash {HOOK}\nrm -f /boot/firstrun.sh"
    )

    # The Pi's root: its os-release, and the boot partition mounted at /boot/firmware.
    root = tmp_path / "root"
    boot = root / "boot/firmware"
    boot.mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text("ID=debian\nVERSION_CODENAME=bookworm\n")
    subprocess.run(["mcopy", "-s", "-i", str(image), "::/*", str(boot)], check=True)
    first_boot = subprocess.run(
        ["bash", str(boot / "maskwatch/firstboot.sh")], capture_output=True, text=True,
        timeout=600, env={**os.environ, "DESTDIR": str(root)},
    )  # fmt: skip
    assert first_boot.returncode == 0, first_boot.stdout + first_boot.stderr

    unit = root / "etc/systemd/system/maskwatch.service"
    assert unit.read_text() == (ROOT / "systemd/maskwatch.service").read_text()
    assert (root / "etc/systemd/system/multi-user.target.wants/maskwatch.service").is_symlink()
    conf = root / "etc/maskwatch"
    assert (conf / "maskwatch.toml").read_text() == config.read_text()
    assert oct((conf / "maskwatch.toml").stat().st_mode & 0o777) == "0o640"
    assert (conf / "mqtt_password").read_text() == PASSWORD
    assert oct((conf / "mqtt_password").stat().st_mode & 0o777) == "0o600"
    assert oct(conf.stat().st_mode & 0o777) == "0o750"
    venv = root / "opt/maskwatch/venv"
    probe = subprocess.run(
        [str(venv / "bin/python"), "-c",
         "import numpy, cv2, ai_edge_litert; print(numpy.__version__)"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert probe.stdout.strip() == RELEASES["bookworm"].pins()["numpy"], probe.stderr

    # Nothing of maskwatch is left on the boot partition, the secrets least of all.
    assert sorted(p.name for p in boot.iterdir()) == ["cmdline.txt", "config.txt", "firstrun.sh"]
    for path in boot.rglob("*"):
        assert PASSWORD not in path.read_text(errors="replace"), path
    log = (root / "var/log/maskwatch-firstboot.log").read_text()
    assert "moved mqtt_password to /etc/maskwatch (mode 0600)" in log
    assert PASSWORD not in log


def test_a_card_without_imagers_customisation_is_refused(tmp_path):
    image = fat_image(tmp_path / "bootfs.img", {"cmdline.txt": CMDLINE})
    config, _ = owner_files(tmp_path)
    result = sd_card(image, config)
    assert result.returncode != 0
    assert (
        f"sd-card: error: {image} has neither user-data (trixie, cloud-init) nor firstrun.sh "
        "(bookworm): write the card with Raspberry Pi Imager's OS customisation"
    ) in result.stderr
    assert listing(image, "") == ["cmdline.txt", "config.txt"]


def test_a_bad_config_is_refused_before_anything_is_written(tmp_path):
    image = fat_image(tmp_path / "bootfs.img", {"user-data": IMAGER_USER_DATA})
    config = tmp_path / "owner.toml"
    config.write_text('[mqtt]\nport = "eighteen"\n')
    result = sd_card(image, config)
    assert result.returncode != 0
    assert "sd-card: error: config key mqtt.port" in result.stderr
    assert listing(image, "") == ["config.txt", "user-data"]
    assert read_from(image, "user-data") == IMAGER_USER_DATA
