from pathlib import Path

import pytest

from maskwatch.core.config import load_config, parse_override
from maskwatch.core.errors import EXIT_CONFIG, ConfigError
from tests.conftest import ROOT, error_lines, maskwatch

DEFAULT = ROOT / "config" / "maskwatch.toml"


def write(tmp_path, text):
    path = tmp_path / "maskwatch.toml"
    path.write_text(text)
    return path


def test_the_default_config_loads_with_paths_relative_to_it():
    config = load_config(DEFAULT)
    assert config.bundle.path == (ROOT / "bundle").resolve()
    assert config.mqtt.qos == 1 and config.device_slug == "front-door"


def test_overrides_are_typed_and_paths_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(DEFAULT, ["mqtt.port=1884", "source.path=frames", "source.loop=true"])
    assert config.mqtt.port == 1884
    assert config.source.path == tmp_path / "frames"
    assert config.source.loop is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[mqtt]\nport = 'abc'", "config key mqtt.port: expected an integer, found 'abc' (str)"),
        ("[mqtt]\nport = 70000", "config key mqtt.port: expected 1..65535, found 70000"),
        ("[mqtt]\nqos = 3", "config key mqtt.qos: expected one of 0, 1, 2, found 3"),
        ("[mqtt]\nprot = 1", "config key mqtt.prot: unknown key"),
        ("[mqtt]\ntopic_prefix = 'a/#'", "config key mqtt.topic_prefix"),
        ("[source]\nkind = 'webcam'", "config key source.kind: expected one of 'images', 'video'"),
        ("[pipeline]\nthreads = 0", "config key pipeline.threads: expected at least 1, found 0"),
        ("[source]\nloop = 'yes'", "config key source.loop: expected true or false"),
        ("mqtt = 5", "config key mqtt: expected a [mqtt] table"),
        ("[log]\nlevel = 'LOUD'", "config key log.level"),
        ("[pipeline]\nroi = [0.5, 0, 0.2, 1]", "config key pipeline.roi: expected [left, top"),
        ("[pipeline]\nroi = 'all'", "config key pipeline.roi: expected a list of numbers"),
        ("[mqtt]\ntls_ca = 'ca.pem'", "config key mqtt.tls: expected true when tls_ca"),
        ("[mqtt]\ntls = true\ntls_cert = 'c.pem'", "config key mqtt.tls_cert / mqtt.tls_key"),
        ("[snapshot]\nkind = 'video'", "config key snapshot.kind: expected one of 'face'"),
        ("[queue]\nmax_events = 0", "config key queue.max_events: expected at least 1"),
        ("[source]\nkind = 'picamera2'", "config key source.width / source.height"),
        ("[web]\nlisten = 'raspberrypi.local:8080'", "config key web.listen: expected HOST:PORT"),
        ("[web]\nlisten = '127.0.0.1'", "config key web.listen: expected HOST:PORT"),
        ("[web]\nfps = 60", "config key web.fps: expected 0.5..15, found 60.0"),
        ("[web]\nwidth = 32", "config key web.width: expected at least 160, found 32"),
    ],
)
def test_bad_values_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


# Values that crashed the daemon (a traceback, exit 1, a restart loop) instead of exit 78.
CRASHING_VALUES = [
    ("mqtt.reconnect_max=nan", "config key mqtt.reconnect_max: expected a finite number"),
    ("mqtt.reconnect_max=inf", "config key mqtt.reconnect_max: expected a finite number"),
    ("queue.max_mb=nan", "config key queue.max_mb: expected a finite number, found nan"),
    ("queue.max_mb=inf", "config key queue.max_mb: expected a finite number, found inf"),
    ("source.interval=nan", "config key source.interval: expected a finite number, found nan"),
    ("source.interval=1e300", "config key source.interval: expected at most 3600.0, found 1e+300"),
    ("mqtt.keepalive=70000", "config key mqtt.keepalive: expected at most 65535, found 70000"),
    ("pipeline.roi=[0, 0, nan, 1]", "config key pipeline.roi: expected a finite number, found nan"),
    ("homeassistant.prefix='home/+'", "config key homeassistant.prefix: expected topic levels"),
    ("homeassistant.prefix='home/#'", "config key homeassistant.prefix: expected topic levels"),
    ("homeassistant.prefix='$SYS/ha'", "config key homeassistant.prefix: expected topic levels"),
    ("homeassistant.prefix='home//ha'", "config key homeassistant.prefix: expected topic levels"),
    ('homeassistant.prefix="home\\u0000"', "config key homeassistant.prefix: expected topic"),
    ("mqtt.topic_prefix='$SYS'", "config key mqtt.topic_prefix: expected topic levels"),
]


@pytest.mark.parametrize(("override", "message"), CRASHING_VALUES)
def test_non_finite_and_out_of_range_values_are_config_errors(override, message):
    with pytest.raises(ConfigError) as caught:
        load_config(DEFAULT, [override], {})
    assert str(caught.value).startswith(message), caught.value


def test_run_and_check_refuse_the_same_values_with_one_line_and_exit_78(tmp_path):
    """``check`` must refuse what ``run`` refuses (sd-card.sh: tests/test_sd_card.py)."""
    for override, message in CRASHING_VALUES[::3]:
        for command in ("run", "check"):
            result = maskwatch(command, "--config", str(DEFAULT), "--set", override,
                               "--set", f"queue.path={tmp_path / 'q.sqlite3'}")  # fmt: skip
            assert result.returncode == EXIT_CONFIG, (command, override, result.stderr)
            assert "Traceback" not in result.stderr, result.stderr
            lines = error_lines(result.stderr)
            assert len(lines) == 1 and message in lines[0], (command, result.stderr)


def test_invalid_toml_names_the_file(tmp_path):
    path = write(tmp_path, "[mqtt\nport=1")
    with pytest.raises(ConfigError, match=f"{path}: not valid TOML"):
        load_config(path)


def test_a_missing_config_file_is_one_line_and_exit_78(tmp_path):
    result = maskwatch("run", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == EXIT_CONFIG
    assert error_lines(result.stderr) == [
        f"maskwatch: error: {tmp_path / 'nope.toml'}: config file not found; pass --config FILE"
    ]


def test_a_folder_or_a_non_utf8_file_as_config_is_one_line_and_exit_78(tmp_path):
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes("device_id = 'caf\xe9'\n".encode("latin-1"))
    cases = ((tmp_path, "is a folder; pass the TOML file, --config FILE"),
             (latin1, "not UTF-8 text (byte 16); save the config as UTF-8"))  # fmt: skip
    for path, message in cases:
        result = maskwatch("run", "--config", str(path))
        assert result.returncode == EXIT_CONFIG, result.stderr
        assert error_lines(result.stderr) == [f"maskwatch: error: {path}: {message}"]
        assert "Traceback" not in result.stderr


def test_a_bad_value_stops_the_daemon_with_exit_78(tmp_path):
    result = maskwatch("run", "--config", str(DEFAULT), "--set", "mqtt.port=-1")
    assert result.returncode == EXIT_CONFIG
    assert len(error_lines(result.stderr)) == 1 and "mqtt.port" in result.stderr


def test_parse_override_reads_toml_values_or_strings():
    assert parse_override("mqtt.host=broker.lan") == (["mqtt", "host"], "broker.lan")
    assert parse_override("source.interval=0.5") == (["source", "interval"], 0.5)
    with pytest.raises(ConfigError, match="expected section.key=value"):
        parse_override("nonsense")


def test_path_keys_must_not_be_empty(tmp_path):
    with pytest.raises(ConfigError, match="config key source.path: expected a path string"):
        load_config(write(tmp_path, "[source]\npath = ''"))


def test_device_id_is_sanitised_for_topics():
    config = load_config(None, ["device_id='Front door #2'"])
    assert config.device_slug == "Front_door_2"
    assert isinstance(config.bundle.path, Path)


def test_environment_overrides_sit_between_the_file_and_the_command_line(tmp_path):
    environ = {"MASKWATCH__MQTT__HOST": "from-env", "MASKWATCH__MQTT__PORT": "1999",
               "MASKWATCH__DEVICE_ID": "porch", "MASKWATCH_MQTT_PASSWORD": "not a key"}  # fmt: skip
    config = load_config(DEFAULT, ["mqtt.port=2000"], environ)
    assert (config.mqtt.host, config.mqtt.port, config.device_slug) == ("from-env", 2000, "porch")
    with pytest.raises(ConfigError, match="config key mqtt.port: expected 1..65535, found 0"):
        load_config(DEFAULT, [], {"MASKWATCH__MQTT__PORT": "0"})
    with pytest.raises(ConfigError, match="config key mqtt.hots: unknown key"):
        load_config(DEFAULT, [], {"MASKWATCH__MQTT__HOTS": "x"})


def test_the_queue_goes_to_systemds_state_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path))
    assert load_config(None, [], {}).queue.file == tmp_path / "events.sqlite3"


def test_the_status_page_is_off_and_on_loopback_unless_configured():
    web = load_config(DEFAULT).web
    assert not web.enabled and web.address == ("127.0.0.1", 8080) and web.loopback
    loopback = {"localhost:80": True, "[::1]:8080": True, "127.0.0.2:8080": True,
                "0.0.0.0:8080": False, "[::]:8080": False, "192.168.1.20:8080": False}  # fmt: skip
    for listen, expected in loopback.items():
        assert load_config(None, [f"web.listen='{listen}'"], {}).web.loopback is expected, listen
