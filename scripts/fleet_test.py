"""``make fleet-test``: 20 daemons on loopback against one real mosquitto with per-device
users and ACLs (docs/fleet.md). Not part of ``make test``.

Each daemon reads a looping folder of held-out door photos at a few frames a second. The
run: all start; one device's broker user is revoked (it is refused and keeps queueing);
one device is offered a bundle that cannot start (it rolls back); a good bundle goes to
the canaries, then the rest; the revoked device is let back in; all stop. It reports the
roll-out's time, events lost (each device's ``seq`` numbers must arrive without a gap),
and the broker's CPU time and memory; exit 1 if an event was lost or a step failed.
"""

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from workbench.bench_frames import test_split_images
from workbench.fleet import Fleet, unloadable_bundle

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def broker_usage(pid: int) -> tuple[float, float, float]:
    """CPU seconds so far, resident and peak resident MB of the broker, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    mb = lambda key: int(status[key].split()[0]) / 1024  # noqa: E731
    return cpu, mb("VmRSS"), mb("VmHWM")


def wait_until(predicate, timeout: float, what: str) -> float:  # noqa: ANN001
    """Seconds it took; SystemExit naming ``what`` after ``timeout``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise SystemExit(f"fleet-test: {what}: not within {timeout:.0f} s")
        time.sleep(0.5)
    return time.monotonic() - start


class Run:
    def __init__(self, fleet: Fleet, devices: list[str]) -> None:
        self.fleet, self.devices = fleet, devices

    def report(self, device: str) -> dict:
        found = self.fleet.observer.payloads(f"maskwatch/{device}/rollout")
        return json.loads(found[-1]) if found else {}

    def seqs(self, device: str) -> list[int]:
        return [
            json.loads(p)["seq"] for p in self.fleet.observer.payloads(f"maskwatch/{device}/events")
        ]

    def rollout(self, devices: list[str], version: str, timeout: float) -> tuple[bool, float, str]:
        csv = self.fleet.folder / f"rollout-{version}.csv"
        rows = [row for row in self.fleet.rows if row.split(",")[0] in devices]
        csv.write_text("device_id,site,broker_user,group\n" + "".join(f"{r}\n" for r in rows))
        start = time.monotonic()
        result = self.fleet.admin("rollout", "--devices", str(csv), "--version", version,
                                  "--timeout", str(timeout), timeout=4 * timeout)  # fmt: skip
        return result.returncode == 0, time.monotonic() - start, result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=20, help="daemons to run (default: 20)")
    parser.add_argument("--fps", type=float, default=2.0, help="frames a second each (default: 2)")
    parser.add_argument("--trial", type=float, default=20.0,
                        help="seconds a new bundle must run to be kept (default: 20)")  # fmt: skip
    data = Path(os.environ.get("MASKWATCH_DATA", ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--data-root", type=Path, default=data, help="the datasets folder")
    parser.add_argument("--out", type=Path, help="write the figures here (JSON)")
    args = parser.parse_args()
    names = [f"door-{i:02d}" for i in range(1, args.devices + 1)]
    rows = [f"{n},floor-{i % 3},,{'canary' if i < 2 else ''}" for i, n in enumerate(names)]
    revoked, corrupt = names[-1], names[-2]
    began = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="maskwatch-fleet-") as tmp,
        Fleet(Path(tmp), rows) as fleet,
    ):
        frames = Path(tmp) / "frames"
        frames.mkdir()
        for image in test_split_images(args.data_root, 12):
            for k in range(4):  # a still camera's view: enough frames to confirm a person
                (frames / f"{image.stem}_{k}.jpg").symlink_to(image.resolve())
        run = Run(fleet, names)
        broker = fleet.broker._process.pid
        cpu0 = broker_usage(broker)[0]
        settings = (f"fleet.trial_seconds={args.trial}", "fleet.health_interval=5",
                    "mqtt.reconnect_max=2", "homeassistant.discovery=true")  # fmt: skip
        daemons, logs = {}, {name: Path(tmp) / f"{name}.log" for name in names}
        launched = time.monotonic()
        for name in names:
            with logs[name].open("w") as log:
                daemons[name] = fleet.start_device(name, frames, *settings, fps=args.fps,
                                                   stderr=log)  # fmt: skip
            time.sleep(0.5)  # staggered: model loading is the costly part of a start
        wait_until(lambda: all(run.report(n).get("state") == "ok" for n in names), 300,
                   "every daemon up")  # fmt: skip
        started = time.monotonic() - launched  # from the first start, 0.5 s apart
        print(f"fleet-test: {len(names)} daemons connected {started:.0f} s after the first "
              "was started", flush=True)  # fmt: skip
        first = wait_until(lambda: all(run.seqs(n) for n in names), 240, "an event from each")
        print(f"fleet-test: an event from every daemon {first:.0f} s later", flush=True)

        fleet.revoke(revoked)
        print(f"fleet-test: {revoked}'s broker user revoked", flush=True)
        bad_bundle = unloadable_bundle(ROOT / "bundle", Path(tmp) / "bad")
        fleet.admin("publish", "--bundle", str(bad_bundle),
                    "--version", "v2-bad", "--key", str(fleet.folder / "fleet.key"))  # fmt: skip
        run.rollout([corrupt], "v2-bad", 180)
        bad = run.report(corrupt)
        print(f"fleet-test: {corrupt} offered v2-bad: {bad.get('state')}, runs {bad.get('running')}"
              f" ({bad.get('reason')})", flush=True)  # fmt: skip
        published = fleet.admin("publish", "--bundle", str(ROOT / "bundle"), "--version", "v2",
                                "--key", str(fleet.folder / "fleet.key"))  # fmt: skip
        print(f"fleet-test: {published.stdout.strip()}", flush=True)
        ok, rollout_s, out = run.rollout([n for n in names if n != revoked], "v2", 300)
        print(out, end="", flush=True)
        print(f"fleet-test: roll-out to {len(names) - 1} devices (canary first): {rollout_s:.0f} s")

        before_return = max(run.seqs(revoked))
        fleet.provision(rows)
        fleet.broker.reload()
        print(f"fleet-test: {revoked} let back in", flush=True)
        wait_until(lambda: max(run.seqs(revoked)) > before_return, 120, "revoked device back")
        for daemon in daemons.values():
            daemon.send_signal(signal.SIGTERM)
        exits = {name: daemon.wait(30) for name, daemon in daemons.items()}
        time.sleep(1)
        cpu1, rss, peak = broker_usage(broker)
        refused = logs[revoked].read_text().count("refused the connection: Not authorized")
        lost = {}
        for name in names:
            seqs = run.seqs(name)
            lost[name] = len(set(range(1, max(seqs) + 1)) - set(seqs)) if seqs else 0
        figures = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "devices": len(names),
            "fps_each": args.fps,
            "trial_s": args.trial,
            "all_connected_s": round(started, 1),
            "first_event_from_all_s": round(first, 1),
            "rollout_s": round(rollout_s, 1),
            "rollout_ok": ok,
            "bad_bundle": {
                "device": corrupt,
                "state": bad.get("state"),
                "running": bad.get("running"),
                "reason": bad.get("reason"),
            },  # fmt: skip
            "events": sum(len(set(run.seqs(n))) for n in names),
            "revoked": {
                "device": revoked,
                "refusals_logged": refused,
                "events_before_revocation": before_return,
                "events_sent_after_return": max(run.seqs(revoked)) - before_return,
            },  # fmt: skip
            "events_lost": sum(lost.values()),
            "broker_cpu_s": round(cpu1 - cpu0, 2),
            "broker_rss_mb": round(rss, 1),
            "broker_peak_rss_mb": round(peak, 1),
            "wall_s": round(time.monotonic() - began, 1),
            "exit_codes": sorted(set(exits.values())),
        }
    print(json.dumps(figures, indent=1))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")
    good = ok and figures["events_lost"] == 0 and bad.get("state") == "rolled_back"
    return 0 if good and figures["exit_codes"] == [0] else 1


if __name__ == "__main__":
    sys.exit(main())
