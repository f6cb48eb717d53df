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
CMDLINE = ("console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait "
           "quiet init=/usr/lib/raspberrypi-sys-mods/firstboot\n")  # fmt: skip
BOOTED_CMDLINE = CMDLINE.replace(" init=/usr/lib/raspberrypi-sys-mods/firstboot", "")
PASSWORD = "s3cret-broker-password"
WEB_PASSWORD = "s3cret-page-password"
HOOK = "/boot/firmware/maskwatch/firstboot.sh"
WEB_DEFAULTS = 'enabled = false\nlisten = "127.0.0.1:8080"'  # config/device.toml's [web]
WEB_ON_THE_LAN = 'enabled = true\nlisten = "0.0.0.0:8080"'


def need(command: str, package: str) -> None:
    if not shutil.which(command):
        pytest.fail(f"{command} is missing: apt-get install {package} (make system-deps)")


def fat_image(path: Path, files: dict[str, str], megabytes: int = 400) -> Path:
    """A FAT boot partition image holding ``files``, as Imager leaves the card (FAT32, as
    Imager writes it, unless it is too small for that)."""
    need("mformat", "mtools")
    with path.open("wb") as image:
        image.truncate(megabytes * 1024 * 1024)
    fat32 = ["-F"] if megabytes >= 64 else []
    subprocess.run(["mformat", "-i", str(path), *fat32, "-v", "bootfs", "::"], check=True)
    source = path.parent / "imager"
    source.mkdir()
    for name, text in {"config.txt": "camera_auto_detect=1\n", "cmdline.txt": CMDLINE,
                       **files}.items():  # fmt: skip
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


def sd_card(image: Path, config: Path, password: Path | None = None,
            web_password: Path | None = None, **env: str):  # fmt: skip
    args = ["make", "--no-print-directory", "sd-card", f"BOOT={image}", f"CONFIG={config}"]
    if password:
        args.append(f"PASSWORD_FILE={password}")
    if web_password:
        args.append(f"WEB_PASSWORD_FILE={web_password}")
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
    # The status page on the LAN: its password rides on the card like the broker's.
    config.write_text(config.read_text().replace(WEB_DEFAULTS, WEB_ON_THE_LAN))
    web_password = tmp_path / "web-password"
    web_password.write_text(WEB_PASSWORD)
    # The wheelhouse for this machine (x86_64), so that the first boot can run here.
    result = sd_card(image, config, password, web_password, WHEEL_ARCH="x86_64")
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
    assert (conf / "web_password").read_text() == WEB_PASSWORD
    assert oct((conf / "web_password").stat().st_mode & 0o777) == "0o600"
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
        assert WEB_PASSWORD not in path.read_text(errors="replace"), path
    log = (root / "var/log/maskwatch-firstboot.log").read_text()
    assert "moved mqtt_password to /etc/maskwatch (mode 0600)" in log
    assert "moved web_password to /etc/maskwatch (mode 0600)" in log
    assert PASSWORD not in log and WEB_PASSWORD not in log


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
    assert listing(image, "") == ["cmdline.txt", "config.txt", "user-data"]
    assert read_from(image, "user-data") == IMAGER_USER_DATA


def refused_untouched(image: Path, result, message: str) -> None:
    """Refused with ``message`` and the card as it was: nothing of maskwatch on it."""
    assert result.returncode != 0, result.stdout
    assert f"sd-card: error: {message}" in result.stderr, result.stderr
    assert "maskwatch" not in listing(image, "")
    assert read_from(image, "user-data") == IMAGER_USER_DATA


def test_a_card_that_has_booted_is_refused_before_anything_is_written(tmp_path):
    """cloud-init runs runcmd once per instance: on a card that has booted, the first-boot
    step would never run and the password would stay on the boot partition for good."""
    image = fat_image(tmp_path / "bootfs.img", {"user-data": IMAGER_USER_DATA,
                                                "cmdline.txt": BOOTED_CMDLINE})  # fmt: skip
    config, password = owner_files(tmp_path)
    refused_untouched(image, sd_card(image, config, password), f"{image} has booted already")


def test_a_release_without_its_first_boot_file_is_refused_before_anything_is_written(tmp_path):
    """RELEASE=bookworm on a card without firstrun.sh used to copy the password, then fail."""
    image = fat_image(tmp_path / "bootfs.img", {"user-data": IMAGER_USER_DATA})
    config, password = owner_files(tmp_path)
    result = sd_card(image, config, password, RELEASE="bookworm")
    refused_untouched(image, result, f"{image} has no firstrun.sh (RELEASE=bookworm)")


def test_a_failure_while_writing_takes_back_what_was_written(tmp_path):
    """A card too small for the wheelhouse: the copy fails part-way, after the passwords."""
    image = fat_image(tmp_path / "bootfs.img", {"user-data": IMAGER_USER_DATA}, megabytes=16)
    config, password = owner_files(tmp_path)
    result = sd_card(image, config, password)
    refused_untouched(image, result, "writing the card failed; removing what was written")
    assert listing(image, "") == ["cmdline.txt", "config.txt", "user-data"]


@pytest.mark.parametrize(
    ("change", "web_password", "message"),
    [
        ((WEB_DEFAULTS, WEB_ON_THE_LAN), False, "config key web.listen: 0.0.0.0:8080 is "
         "reachable from the network, so the page needs a password: give it as "
         "WEB_PASSWORD_FILE=file"),
        ((WEB_DEFAULTS, WEB_ON_THE_LAN + '\npassword_file = "/etc/page"'), True,
         "config key web.password_file: /etc/page is a file on this machine, not on the card"),
        (("tls = false", "tls = false\nkeepalive = 70000"), False,
         "config key mqtt.keepalive: expected at most 65535, found 70000"),
        (("discovery = true", 'discovery = true\nprefix = "home/+"'), False,
         "config key homeassistant.prefix: expected topic levels"),
        (("tls = false", "tls = false\nreconnect_max = nan"), False,
         "config key mqtt.reconnect_max: expected a finite number, found nan"),
    ],
)  # fmt: skip
def test_a_config_the_device_would_refuse_is_refused_before_anything_is_written(
    tmp_path, change, web_password, message
):
    image = fat_image(tmp_path / "bootfs.img", {"user-data": IMAGER_USER_DATA})
    config, password = owner_files(tmp_path)
    text = config.read_text()
    assert change[0] in text, change
    config.write_text(text.replace(*change))
    page = tmp_path / "web-password"
    page.write_text(WEB_PASSWORD)
    result = sd_card(image, config, password, page if web_password else None)
    refused_untouched(image, result, message)
