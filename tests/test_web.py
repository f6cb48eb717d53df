"""The status page ([web]) against the real daemon replaying held-out test scenes: in headless
Chromium (Debian's chromium + chromium-driver, driven by Selenium), and over plain HTTP for
the password, the Host check and the encoder's idleness."""

import base64
import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import time
import tomllib
from pathlib import Path

import pytest

from maskwatch.core.config import load_config
from maskwatch.core.errors import EXIT_CONFIG
from maskwatch.service.web_guard import (
    LOCKOUT_SECONDS,
    MAX_FAILURES,
    REQUEST_DEADLINE,
    Lockout,
    client_of,
)
from tests.conftest import (
    CONFIG,
    error_lines,
    maskwatch,
    start_daemon,
    terminate,
)
from tests.test_full_card import fill_to_the_cap
from tests.test_mqtt_security import make_pki
from workbench.local_broker import LocalBroker, free_port

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--window-size=1400,1000")  # fmt: skip


def environment(**extra: str) -> dict[str, str]:
    """This process's environment without any web password of its own."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MASKWATCH_WEB_PASSWORD", "CREDENTIALS_DIRECTORY")}  # fmt: skip
    return {**env, **extra}


def serve(broker, frames, port, *overrides, env=None, queue=None):
    return start_daemon(broker, frames, "--set", "source.loop=true",
                        "--set", "source.interval=0.1", "--set", "web.enabled=true",
                        "--set", f"web.listen=127.0.0.1:{port}", *overrides,
                        queue=queue, env=env or environment())  # fmt: skip


def get(port, path, headers=None, timeout=5.0):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    return response, response.read()


def wait_for_page(port, daemon, timeout=60.0, headers=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            pytest.fail(f"the daemon exited: {daemon.communicate()[1][-2000:]}")
        try:
            response, body = get(port, "/status.json", headers)
            if response.status == 200 and json.loads(body)["frames"]:
                return json.loads(body)
        except (ConnectionError, OSError):
            pass
        time.sleep(0.2)
    pytest.fail("the status page did not come up")


def status(port):
    response, body = get(port, "/status.json")
    assert response.status == 200
    return json.loads(body)


@pytest.fixture
def browser(tmp_path):
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("chromium / chromedriver missing: apt-get install chromium chromium-driver "
                    "(make system-deps)")  # fmt: skip
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


def test_the_page_shows_the_live_view_events_and_gives_the_roi_line(
    broker, still_frames, browser, tmp_path
):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    port = free_port()
    daemon = serve(broker, still_frames, port, "--set", "pipeline.min_face=40",
                   "--set", "pipeline.roi=[0.02, 0.02, 0.98, 0.98]")  # fmt: skip
    try:
        wait_for_page(port, daemon)
        browser.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(browser, 30)
        view = browser.find_element(By.ID, "view")
        wait.until(lambda d: d.execute_script("return arguments[0].naturalWidth", view) > 0)
        first = view.screenshot_as_png
        wait.until(lambda d: view.screenshot_as_png != first)  # the picture moves
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#events li"))
        wait.until(lambda d: "frames per second" in d.find_element(By.ID, "health").text)
        assert status(port)["stream"]["encodes"] > 0

        width, height = view.size["width"], view.size["height"]
        ActionChains(browser).move_to_element_with_offset(
            view, -width // 4, -height // 4
        ).click_and_hold().move_by_offset(width // 2, height // 2).release().perform()
        line = browser.find_element(By.ID, "roi-line").get_attribute("value")
        assert re.fullmatch(r"roi = \[(\d\.\d{1,3}, ){3}\d\.\d{1,3}\]", line), line
        roi = tomllib.loads(line)["roi"]
        assert roi == pytest.approx([0.25, 0.25, 0.75, 0.75], abs=0.01)
        pasted = tmp_path / "pasted.toml"  # the line as the owner would paste it
        pasted.write_text(CONFIG.read_text().replace("roi = [0.0, 0.0, 1.0, 1.0]", line))
        assert load_config(pasted).pipeline.roi == tuple(roi)
        browser.find_element(By.ID, "copy").click()
        wait.until(lambda d: d.find_element(By.ID, "copied").text == "copied")

        # the page redraws the list on every status poll, so read it in one step
        events = browser.execute_script(
            "return [...document.querySelectorAll('#events li')].map((li) => li.innerText)"
        )
        assert 1 <= len(events) <= 20
        assert re.search(r"\b(new|update|end) #\d+ (mask|no_mask) \d\.\d\d$",
                         events[0]), events[0]  # fmt: skip
        screenshot = tmp_path / "status-page.png"
        browser.save_screenshot(str(screenshot))
        print(f"\nscreenshot: {screenshot}")
        assert screenshot.stat().st_size > 10_000
    finally:
        terminate(daemon)


def refused_page(tmp_path, *overrides):
    """``maskwatch run`` with the page on and ``overrides``: exit 78 and one error line."""
    result = maskwatch("run", "--config", str(CONFIG), "--set", "web.enabled=true",
                       *overrides, "--set", f"queue.path={tmp_path / 'q.sqlite3'}",
                       env=environment())  # fmt: skip
    assert result.returncode == EXIT_CONFIG, result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_a_reachable_page_without_a_password_is_a_config_error(tmp_path):
    error = refused_page(tmp_path, "--set", f"web.listen=0.0.0.0:{free_port()}")
    assert "config key web.password_file" in error
    assert "0.0.0.0" in error and "needs a password" in error


def test_check_reports_the_page_a_missing_password_and_a_busy_port(broker, still_frames):
    def web_line(listen):
        result = maskwatch("check", "--config", str(CONFIG), "--set", f"mqtt.port={broker.port}",
                           "--set", f"source.path={still_frames}", "--set", "web.enabled=true",
                           "--set", f"web.listen={listen}", env=environment())  # fmt: skip
        return dict(line.split(": ", 1) for line in result.stdout.splitlines())["web"]

    port = free_port()
    assert web_line(f"127.0.0.1:{port}") == (
        f"ok, http://127.0.0.1:{port}/, loopback: ssh -L {port}:localhost:{port} to this device"
    )
    assert web_line(f"0.0.0.0:{port}").startswith("FAIL, config key web.password_file: ")
    with socket.create_server(("127.0.0.1", port)):
        busy = web_line(f"127.0.0.1:{port}")
    assert busy.startswith(f"FAIL, config key web.listen: cannot listen on 127.0.0.1:{port}")


def test_a_wrong_password_gets_401_and_the_right_one_the_page(broker, still_frames, tmp_path):
    credentials = tmp_path / "credentials"  # as systemd's LoadCredential=web_password:...
    credentials.mkdir()
    (credentials / "web_password").write_text("door-secret\n")
    port = free_port()
    daemon = serve(broker, still_frames, port, "--set", f"web.listen=0.0.0.0:{port}",
                   env=environment(CREDENTIALS_DIRECTORY=str(credentials)))  # fmt: skip

    try:
        wait_for_page(port, daemon, headers=basic("door-secret"))
        paths = ("/", "/status.json", "/stream.mjpg")
        wrong = (basic("door-secret!"), basic("door"), {"Authorization": "Basic ?"})
        # no password on every path, and wrong ones (fewer than the lockout's five)
        for path, headers in [(path, {}) for path in paths] + list(zip(paths, wrong, strict=True)):
            response, _ = get(port, path, headers)
            assert response.status == 401, (path, headers)
            assert response.getheader("WWW-Authenticate").startswith('Basic realm="maskwatch"')
        response, body = get(port, "/", basic("door-secret"))
        assert response.status == 200 and b"<title>maskwatch</title>" in body
        assert status_with(port, basic("door-secret"))["stream"]["encodes"] == 0
    finally:
        stderr = terminate(daemon)
    assert "door-secret" not in stderr


def status_with(port, headers):
    response, body = get(port, "/status.json", headers)
    assert response.status == 200
    return json.loads(body)


def test_the_stream_encodes_only_while_a_client_watches(broker, still_frames):
    port = free_port()
    daemon = serve(broker, still_frames, port)
    try:
        wait_for_page(port, daemon)
        time.sleep(1.0)
        idle = status(port)
        assert idle["frames"] > 3 and idle["stream"] == {"viewers": 0, "encodes": 0}

        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/stream.mjpg")
        response = connection.getresponse()
        assert response.getheader("Content-Type") == "multipart/x-mixed-replace; boundary=frame"
        parts = 0
        while parts < 3:
            line = response.fp.readline()
            if line.startswith(b"Content-Length: "):
                response.fp.readline()
                assert response.fp.read(int(line.split()[1]))[:2] == b"\xff\xd8"  # a JPEG
                parts += 1
        watched = status(port)["stream"]
        assert watched["viewers"] == 1 and watched["encodes"] >= 3
        response.close()  # the viewer leaves
        connection.close()

        deadline = time.monotonic() + 10
        while status(port)["stream"]["viewers"] and time.monotonic() < deadline:
            time.sleep(0.1)
        left = status(port)
        assert left["stream"]["viewers"] == 0
        time.sleep(1.5)
        later = status(port)
        assert later["frames"] > left["frames"] + 5  # frames go on ...
        assert later["stream"]["encodes"] == left["stream"]["encodes"]  # ... unencoded

        response, _ = get(port, "/status.json", {"Host": f"rebound.example:{port}"})
        assert response.status == 403  # a DNS name without a password: DNS rebinding
    finally:
        terminate(daemon)


def test_the_page_names_a_queue_held_in_memory(still_frames, tmp_path):
    """A full card (the queue file at queue.max_mb) with the broker down: the page says the
    events are held in memory, and why."""
    queue = tmp_path / "state" / "events.sqlite3"
    queue.parent.mkdir()
    fill_to_the_cap(queue)
    broker = LocalBroker().start()
    broker.stop()  # nothing listens on its port: the queue cannot drain
    port = free_port()
    daemon = serve(broker, still_frames, port, "--set", "queue.max_mb=0.032", queue=queue)
    try:
        wait_for_page(port, daemon)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            problems = status(port)["degraded"]
            if any(p.startswith("events held in memory only: ") for p in problems):
                break
            time.sleep(0.3)
        held = next(p for p in problems if p.startswith("events held in memory only: "))
        assert "database or disk is full" in held, problems
        assert any(p.startswith("broker unreachable: ") for p in problems), problems
    finally:
        terminate(daemon)


# Attacks, from 127.0.0.2 (loopback too: a client of its own) while the owner uses 127.0.0.1.
ATTACKER = "127.0.0.2"
HEADER_LINE = b"X-Pad: " + b"a" * 60_000 + b"\r\n"  # what the standard library buffered


def resident_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def threads_and_descriptors(pid):
    threads = int(next(line.split()[1] for line in Path(f"/proc/{pid}/status").read_text()
                       .splitlines() if line.startswith("Threads:")))  # fmt: skip
    return threads, len(os.listdir(f"/proc/{pid}/fd"))


def connect_from(source, port):
    return socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))


def half_sent(port, source=ATTACKER, headers=98):
    """A request whose headers never end: ``headers`` lines of 60 KB (under the standard
    library's limit of 100), then silence.
    Returns the socket (held open) once the server stops taking the bytes."""
    sock = connect_from(source, port)
    with contextlib.suppress(OSError):  # refused, or cut off at the limit: as it should be
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + HEADER_LINE * headers)
    return sock


def answer(sock, timeout):
    """What the server says on a half-sent request's socket within ``timeout`` seconds:
    b"" when it closed it, None when it still holds it."""
    sock.settimeout(timeout)
    try:
        return sock.recv(4096)
    except TimeoutError:
        return None
    except ConnectionError:
        return b""


def test_half_sent_requests_cost_the_daemon_nothing_and_do_not_lock_out_the_owner(
    broker, still_frames
):
    port = free_port()
    daemon = serve(broker, still_frames, port)
    attack = []
    try:
        wait_for_page(port, daemon)
        time.sleep(1.0)
        before_mb, before = resident_mb(daemon.pid), threads_and_descriptors(daemon.pid)
        frames_before = status(port)["frames"]
        attack = [half_sent(port) for _ in range(40)]  # 40 x 6 MB, as the review measured
        time.sleep(2.0)
        after_mb, after = resident_mb(daemon.pid), threads_and_descriptors(daemon.pid)
        page = status(port)  # the owner, from another address, still gets in
        print(
            f"\nRSS {before_mb:.0f} -> {after_mb:.0f} MB under 40 half-sent requests; "
            f"threads, descriptors {before} -> {after}"
        )
        assert after_mb - before_mb < 20
        assert after[0] - before[0] <= 8 and after[1] - before[1] <= 8
        assert page["frames"] > frames_before  # the camera did not notice

        # One byte every second holds no connection past the deadline (10 s in all).
        for sock in attack:
            sock.close()
        trickle = connect_from(ATTACKER, port)
        trickle.sendall(b"GET / HTTP/1.1\r\n")
        started, said = time.monotonic(), None
        while time.monotonic() - started < 15 and said is None:
            with contextlib.suppress(OSError):
                trickle.send(b"X")
            said = answer(trickle, 1.0)
        assert said is not None and said.startswith(b"HTTP/1.0 408"), said
        assert time.monotonic() - started < 12
        trickle.close()

        # Silent connections: at most 4 per client are held, the rest refused at once.
        silent = [connect_from(ATTACKER, port) for _ in range(10)]
        time.sleep(0.5)
        refused = [s for s in silent if (answer(s, 0.5) or b"").startswith(b"HTTP/1.0 503")]
        assert len(refused) == 6, len(refused)
        assert status(port)["frames"] > page["frames"]
        for sock in silent:
            sock.close()
    finally:
        for sock in attack:
            sock.close()
        terminate(daemon)


def basic(password):
    token = base64.b64encode(f"pi:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def get_from(source, port, path, headers=None, timeout=5.0):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                            source_address=(source, 0))  # fmt: skip
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_wrong_passwords_lock_the_client_out_and_are_logged_as_a_rate(
    broker, still_frames, tmp_path
):
    password = tmp_path / "web-password"
    password.write_text("door-secret\n")
    port = free_port()
    daemon = serve(broker, still_frames, port, "--set", f"web.listen=0.0.0.0:{port}",
                   "--set", f"web.password_file={password}")  # fmt: skip
    try:
        wait_for_page(port, daemon, headers=basic("door-secret"))
        started = time.monotonic()
        answers = [get_from(ATTACKER, port, "/status.json", basic(f"guess{n}")).status
                   for n in range(300)]  # fmt: skip
        seconds = time.monotonic() - started
        checked = answers.count(401)
        print(f"\n300 guesses in {seconds:.2f} s: {checked} checked, the rest refused (429)")
        assert checked == 5 and answers[:5] == [401] * 5 and set(answers[5:]) == {429}
        locked = get_from(ATTACKER, port, "/status.json", basic("door-secret"))
        assert locked.status == 429 and int(locked.getheader("Retry-After")) > 50
        assert get_from(ATTACKER, port, "/", {}).status == 401  # no password: not a guess
        owner = get_from("127.0.0.1", port, "/status.json", basic("door-secret"))
        assert owner.status == 200  # another client is not locked out
    finally:
        stderr = terminate(daemon)
    lines = [line for line in stderr.splitlines() if "wrong password" in line]
    assert len(lines) == 1, lines  # a count a minute, not a line per guess
    assert "status page: 1 wrong passwords in the last 60 s from 1 clients" in lines[0]
    assert "door-secret" not in stderr and "guess" not in stderr
    assert "status page: its password crosses the network readable" in stderr  # no TLS


def test_the_page_over_https_with_certfile_and_keyfile(broker, still_frames, tmp_path):
    pki = make_pki(tmp_path)
    password = tmp_path / "web-password"
    password.write_text("door-secret\n")
    port = free_port()
    daemon = serve(broker, still_frames, port, "--set", f"web.listen=0.0.0.0:{port}",
                   "--set", f"web.password_file={password}",
                   "--set", f"web.certfile={pki / 'server.pem'}",
                   "--set", f"web.keyfile={pki / 'server.key'}")  # fmt: skip
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    try:
        deadline, page = time.monotonic() + 60, None
        while page is None and time.monotonic() < deadline:
            connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=context)
            with contextlib.suppress(OSError):
                connection.request("GET", "/status.json", headers=basic("door-secret"))
                response = connection.getresponse()
                page = json.loads(response.read()) if response.status == 200 else None
            connection.close()
            time.sleep(0.2)
        assert page is not None and page["device"]
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            get(port, "/status.json", basic("door-secret"))  # plain HTTP gets no page
        silent, started = connect_from(ATTACKER, port), time.monotonic()  # never says hello
        assert answer(silent, REQUEST_DEADLINE + 3) == b""  # closed at the deadline
        assert time.monotonic() - started < REQUEST_DEADLINE + 2
        silent.close()
    finally:
        stderr = terminate(daemon)
    assert f"status page on https://0.0.0.0:{port}/ (password protected)" in stderr
    assert "crosses the network readable" not in stderr


def test_a_certificate_that_cannot_be_loaded_is_one_line_and_exit_78(tmp_path):
    (tmp_path / "cert.pem").write_text("not a certificate\n")
    error = refused_page(tmp_path, "--set", f"web.certfile={tmp_path / 'cert.pem'}")
    assert "config key web.certfile / web.keyfile: cannot load" in error


def test_a_lockout_ends_after_a_minute_and_each_wrong_password_then_renews_it():
    """The lockout's timing (a minute is too long to wait for over sockets), on a fake clock;
    and one IPv6 host, which has a whole /64 to itself, counts as one client."""
    now = [0.0]
    lockout = Lockout(clock=lambda: now[0])
    for _ in range(MAX_FAILURES):
        assert not lockout.locked("192.0.2.7")
        lockout.failed("192.0.2.7")
    assert lockout.locked("192.0.2.7") == LOCKOUT_SECONDS
    now[0] += LOCKOUT_SECONDS
    assert not lockout.locked("192.0.2.7")
    lockout.failed("192.0.2.7")  # one more wrong guess: locked again at once
    assert lockout.locked("192.0.2.7") == LOCKOUT_SECONDS
    lockout.succeeded("192.0.2.7")
    assert not lockout.locked("192.0.2.7")
    assert client_of("2001:db8::1") == client_of("2001:db8::ffff:1") == "2001:db8::/64"
    assert client_of("::ffff:192.0.2.7") == client_of("192.0.2.7") == "192.0.2.7"
