"""``make soak MINUTES=60``: the daemon at full speed against a local mosquitto, watched
from outside for leaks. Not part of ``make test``.

Every minute it samples the daemon's resident memory, open file descriptors and threads
(from ``/proc``) and its own stats (frames per second, queue depth). After the run it
fails (exit 1) when any of them grew: RSS by more than ``--rss-growth-mb`` between the
first minutes after warm-up and the last ones, descriptors or threads at all. The table
and the verdict go to ``--out`` (Markdown).
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from workbench.bench_frames import test_split_images
from workbench.local_broker import Listener, LocalBroker

ROOT = Path(__file__).resolve().parent.parent

WARM_UP_SAMPLES = 2  # the first minutes load models and fill caches


def proc_sample(pid: int) -> dict:
    """RSS (MB), open descriptors and threads of a running process, from /proc."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {
        "rss_mb": round(int(status["VmRSS"].split()[0]) / 1024.0, 1),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(status["Threads"]),
    }


def growth(samples: list[dict], key: str) -> float:
    """The median of the last three samples less the median of the three after warm-up."""
    settled = samples[WARM_UP_SAMPLES:]
    if len(settled) < 2:
        return 0.0
    return statistics.median(s[key] for s in settled[-3:]) - statistics.median(
        s[key] for s in settled[:3]
    )


def verdict(samples: list[dict], rss_growth_mb: float) -> list[str]:
    """What grew, one line each; empty when nothing did."""
    problems = []
    if growth(samples, "rss_mb") > rss_growth_mb:
        problems.append(f"RSS grew by {growth(samples, 'rss_mb'):.1f} MB")
    for key in ("fds", "threads"):
        if growth(samples, key) > 0:
            problems.append(f"{key} grew by {growth(samples, key):.0f}")
    return problems


def report(samples: list[dict], problems: list[str], started: datetime, minutes: float,
           command: str) -> str:  # fmt: skip
    lines = [
        "# Soak run",
        "",
        f"`{command}`, started {started:%Y-%m-%d %H:%M} UTC, ran {minutes:.1f} minutes "
        f"({len(samples)} samples, one a minute).",
        "",
        "| minute | RSS MB | fds | threads | fps | frames | events | queue depth |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    columns = ("minute", "rss_mb", "fds", "threads", "fps", "frames", "events", "queue_depth")
    for sample in samples:
        lines.append("| " + " | ".join(str(sample[c]) for c in columns) + " |")
    lines += ["", f"Verdict: {'FAIL: ' + '; '.join(problems) if problems else 'no growth'} "
              f"(RSS, descriptors and threads: median of the last three samples against the "
              f"three after {WARM_UP_SAMPLES} minutes of warm-up)."]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--images", type=int, default=40, help="test scenes in the loop")
    parser.add_argument("--rss-growth-mb", type=float, default=10.0)
    parser.add_argument("--out", type=Path, help="the Markdown report, e.g. docs/soak.md")
    args = parser.parse_args()

    started = datetime.now(UTC)
    samples: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="maskwatch-soak-") as tmp, LocalBroker() as broker:
        frames = Path(tmp) / "frames"
        frames.mkdir()
        for image in test_split_images(args.data_root, args.images):
            for k in range(4):  # a fixed camera watching each scene: people come and go
                (frames / f"{image.stem}_{k}.jpg").symlink_to(image.resolve())
        listener = Listener(broker.port, "maskwatch/+/stats")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "maskwatch", "run", "--config",
             str(ROOT / "config" / "maskwatch.toml"), "--set", f"mqtt.port={broker.port}",
             "--set", f"source.path={frames}", "--set", "source.loop=true",
             "--set", "mqtt.stats_interval=30", "--set", f"queue.path={tmp}/events.sqlite3",
             "--set", "log.level='WARNING'"],
            cwd=ROOT, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        begin = time.monotonic()
        try:
            for minute in range(1, int(args.minutes) + 1):
                time.sleep(max(0.0, begin + 60 * minute - time.monotonic()))
                if daemon.poll() is not None:
                    raise SystemExit(f"the daemon died: {daemon.stderr.read()}")
                stats = listener.payloads("maskwatch/front-door/stats")
                latest = json.loads(stats[-1]) if stats else {}
                sample = {"minute": minute, **proc_sample(daemon.pid),
                          **{k: latest.get(k, "") for k in ("fps", "frames", "events",
                                                            "queue_depth")}}  # fmt: skip
                samples.append(sample)
                print(json.dumps(sample), flush=True)
        finally:
            daemon.send_signal(signal.SIGTERM)
            _, stderr = daemon.communicate(timeout=30)
            listener.close()
    minutes = (time.monotonic() - begin) / 60.0
    problems = verdict(samples, args.rss_growth_mb)
    if "Traceback" in stderr:
        problems.append("a traceback in the daemon's log")
    command = f"make soak MINUTES={args.minutes:g}"
    text = report(samples, problems, started, minutes, command)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
