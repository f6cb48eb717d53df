"""The real daemon under the benchmark: ``maskwatch run`` with the default config, for its
cold start and peak memory.
"""

import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from workbench.bench_child import child_env

ROOT = Path(__file__).resolve().parent.parent


def drain_notify(notify: socket.socket, daemon: subprocess.Popen) -> None:
    """Read and drop the daemon's sd_notify messages until it exits."""
    notify.settimeout(0.5)
    while daemon.poll() is None:
        try:
            notify.recv(4096)
        except TimeoutError:
            continue


def run_daemon(frames: Path, port: int) -> dict:
    """``maskwatch run`` with the default config over ``frames``: READY=1 (first processed
    frame) and the first event, timed from process start; peak RSS as the daemon's last
    stats message reports it (the kernel's VmHWM)."""
    from workbench.local_broker import Listener

    listener = Listener(port, "maskwatch/+/events")
    stats = Listener(port, "maskwatch/+/stats")
    with tempfile.TemporaryDirectory(prefix="mw-") as folder:
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(f"{folder}/notify")
        notify.settimeout(60)
        started = time.time()
        daemon = subprocess.Popen(
            [sys.executable, "-m", "maskwatch", "run", "--config", "config/maskwatch.toml",
             "--set", f"mqtt.port={port}", "--set", f"source.path={frames}",
             "--set", f"queue.path={folder}/events.sqlite3"],
            cwd=ROOT, env={**child_env(1), "NOTIFY_SOCKET": f"{folder}/notify"},
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        ready = None
        while ready is None:
            if notify.recv(4096).startswith(b"READY=1"):
                ready = time.time() - started
        # Keep reading: a datagram socket holds 10 messages, and the daemon's next status
        # message would block it once they pile up (a run longer than about 10 s).
        drain = threading.Thread(target=drain_notify, args=(notify, daemon), daemon=True)
        drain.start()
        listener.wait_for(lambda lst: lst.messages, timeout=60)
        first_event = time.time() - started if listener.messages else None
        _, stderr = daemon.communicate()
        drain.join()
        notify.close()
    listener.close()
    stats.close()
    if daemon.returncode != 0 or not stats.messages:
        raise SystemExit(f"maskwatch run failed:\n{stderr[-3000:]}")
    last = json.loads(stats.messages[-1][1])
    return {"first_frame_s": ready, "first_event_s": first_event,
            "peak_rss_mb": last["peak_rss_mb"]}  # fmt: skip
