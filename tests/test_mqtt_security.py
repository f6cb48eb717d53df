"""TLS and passwords against a real mosquitto: a TLS listener with a password file."""

import os
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from maskwatch.core.config import load_config
from maskwatch.core.errors import ConfigError
from maskwatch.publish.mqtt import PASSWORD_VARIABLE, read_password
from tests.conftest import (
    CONFIG,
    FRAMES_PER_SCENE,
    TOPIC,
    link_still_sequences,
    maskwatch,
    start_daemon,
)
from workbench.local_broker import Listener, LocalBroker, free_port

PASSWORD = "correct-horse-battery"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki():
    """A throw-away CA and a server certificate for 127.0.0.1, in a folder the broker can
    read when it runs as its own user (pytest's temporary folders are private to root)."""
    with tempfile.TemporaryDirectory(prefix="maskwatch-pki-") as name:
        yield make_pki(Path(name))


def make_pki(folder):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=maskwatch test CA", cwd=folder)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
            "server.csr", "-subj", "/CN=127.0.0.1", cwd=folder)  # fmt: skip
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.cnf",
            cwd=folder)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out",
            "client.csr", "-subj", "/CN=front-door", cwd=folder)  # fmt: skip
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "client.pem", "-days", "2", cwd=folder)  # fmt: skip
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(folder / "passwd"), "maskwatch", PASSWORD],
                   check=True, capture_output=True)  # fmt: skip
    for path in folder.iterdir():
        path.chmod(0o644)
    folder.chmod(0o755)
    return folder


@pytest.fixture
def secure_broker(pki):
    """Plain loopback for the test's listener; for the daemon, TLS with passwords, and TLS
    that requires a client certificate signed by the CA."""
    port, cert_port = free_port(), free_port()
    tls = f"cafile {pki}/ca.pem\ncertfile {pki}/server.pem\nkeyfile {pki}/server.key\n"
    extra = (
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {pki}/passwd\n{tls}"
        f"listener {cert_port} 127.0.0.1\nallow_anonymous true\nrequire_certificate true\n{tls}"
    )
    with LocalBroker(extra=extra) as broker:
        broker.tls_port, broker.cert_port = port, cert_port
        yield broker


def secure_settings(broker, pki):
    return ("--set", f"mqtt.port={broker.tls_port}", "--set", "mqtt.tls=true",
            "--set", f"mqtt.tls_ca={pki / 'ca.pem'}",
            "--set", "mqtt.username='maskwatch'")  # fmt: skip


def test_events_arrive_over_tls_with_a_password_that_is_never_logged(
    secure_broker, pki, clear_faces, tmp_path
):
    frames = tmp_path / "frames"
    frames.mkdir()
    link_still_sequences(frames, clear_faces, FRAMES_PER_SCENE)
    listener = Listener(secure_broker.port, f"{TOPIC}/events")
    env = {**os.environ, PASSWORD_VARIABLE: PASSWORD}
    daemon = start_daemon(secure_broker, frames, *secure_settings(secure_broker, pki),
                          "--set", "log.level='DEBUG'", env=env)  # fmt: skip
    _, stderr = daemon.communicate(timeout=120)
    assert daemon.returncode == 0, stderr
    assert f"connected to broker 127.0.0.1:{secure_broker.tls_port}" in stderr
    assert listener.wait_for(lambda lst: len(lst.payloads(f"{TOPIC}/events")) >= 4, 10)
    listener.close()
    assert PASSWORD not in stderr


def test_a_wrong_password_is_refused_and_named_without_being_logged(secure_broker, pki, tmp_path):
    credentials = tmp_path / "credentials"  # systemd's LoadCredential=mqtt_password:...
    credentials.mkdir()
    (credentials / "mqtt_password").write_text("wrong-password\n")
    nobody = tmp_path / "nobody"
    nobody.mkdir()
    cv2.imwrite(str(nobody / "empty.jpg"), np.full((240, 320, 3), 127, np.uint8))
    env = {**os.environ, "CREDENTIALS_DIRECTORY": str(credentials)}
    daemon = start_daemon(secure_broker, nobody, *secure_settings(secure_broker, pki), env=env)
    _, stderr = daemon.communicate(timeout=60)
    assert "refused the connection: Not authorized (check mqtt.username and the password)" in stderr
    assert "wrong-password" not in stderr


def check_args(tmp_path, *overrides):
    """``maskwatch check`` on one empty frame, with ``overrides`` for the broker."""
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "empty.jpg"), np.full((240, 320, 3), 127, np.uint8))
    return ["check", "--config", str(CONFIG), "--set", f"source.path={frames}",
            "--set", f"queue.path={tmp_path / 'q.sqlite3'}", *overrides]  # fmt: skip


def test_check_reports_the_broker_with_tls_and_the_password(secure_broker, pki, tmp_path):
    args = check_args(tmp_path, *secure_settings(secure_broker, pki))
    good = maskwatch(*args, env={**os.environ, PASSWORD_VARIABLE: PASSWORD})
    assert good.returncode == 0, good.stdout + good.stderr
    assert f"broker: ok, 127.0.0.1:{secure_broker.tls_port}, TLS, user maskwatch" in good.stdout
    bad = maskwatch(*args, env={**os.environ, PASSWORD_VARIABLE: "nope"})
    assert bad.returncode == 1
    assert f"broker: FAIL, 127.0.0.1:{secure_broker.tls_port} refused: Not authorized" in bad.stdout
    untrusted = maskwatch(*args, "--set", "mqtt.tls_ca=/etc/ssl/certs/ca-certificates.crt",
                          env={**os.environ, PASSWORD_VARIABLE: PASSWORD})  # fmt: skip
    assert untrusted.returncode == 1 and "broker: FAIL" in untrusted.stdout
    assert "certificate verify failed" in untrusted.stdout


def test_a_broker_that_requires_a_client_certificate_gets_one(secure_broker, pki, tmp_path):
    args = check_args(tmp_path, "--set", f"mqtt.port={secure_broker.cert_port}",
                      "--set", "mqtt.tls=true",
                      "--set", f"mqtt.tls_ca={pki / 'ca.pem'}")  # fmt: skip
    with_cert = maskwatch(*args, "--set", f"mqtt.tls_cert={pki / 'client.pem'}",
                          "--set", f"mqtt.tls_key={pki / 'client.key'}")  # fmt: skip
    assert with_cert.returncode == 0, with_cert.stdout + with_cert.stderr
    assert f"broker: ok, 127.0.0.1:{secure_broker.cert_port}, TLS" in with_cert.stdout
    without = maskwatch(*args)
    assert without.returncode == 1 and "broker: FAIL" in without.stdout


def test_the_password_comes_from_a_file_then_a_credential_then_the_environment(tmp_path):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "mqtt_password").write_text("from-credential\n")
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    environ = {"CREDENTIALS_DIRECTORY": str(credentials), PASSWORD_VARIABLE: "from-env"}
    with_file = load_config(None, [f"mqtt.password_file={secret}"], environ={})
    assert read_password(with_file.mqtt, environ) == "from-file"
    plain = load_config(None, [], environ={})
    assert read_password(plain.mqtt, environ) == "from-credential"
    assert read_password(plain.mqtt, {PASSWORD_VARIABLE: "from-env"}) == "from-env"
    assert read_password(plain.mqtt, {}) is None
    (credentials / "mqtt_password").write_text("")  # as the installer leaves it
    assert read_password(plain.mqtt, {"CREDENTIALS_DIRECTORY": str(credentials)}) is None
    missing = load_config(None, [f"mqtt.password_file={tmp_path / 'absent'}"], environ={})
    with pytest.raises(ConfigError, match="mqtt.password_file .*absent: cannot read it"):
        read_password(missing.mqtt, {})
