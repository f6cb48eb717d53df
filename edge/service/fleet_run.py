"""``maskwatch run`` on a fleet device (``fleet.enabled``): the daemon on the bundle the
roll-outs chose, with the roll-out agent beside it and a watch over each new bundle's trial.

A new bundle is kept once it has processed frames for ``fleet.trial_seconds``. It is
rolled back, and the bundle before it started again, when it cannot start (an error while
loading), when no frame comes for ``fleet.stall_seconds`` during the trial, or when the
daemon crashed or was killed during the trial (the next start finds the trial unconfirmed:
:meth:`BundleStore.start`). Switching and rolling back restart the daemon in the same
process (``exec``), so systemd's main PID, watchdog and credentials stay as they are; systemd
sees a reload.
"""

import dataclasses
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable

from maskwatch.core.bundle_store import BundleStore
from maskwatch.core.config import Config
from maskwatch.publish.homeassistant import fleet_health_messages
from maskwatch.service.daemon import Daemon, StopFlag
from maskwatch.service.fleet_agent import FleetAgent
from maskwatch.service.fleet_health import EventTally, FrameRateSince, health_message
from maskwatch.service.systemd import Notifier

log = logging.getLogger(__name__)

WATCH_SECONDS = 1.0


class TrialWatch:
    """One thread: confirms or rolls back a trial by the frames processed, and publishes
    the retained health every ``fleet.health_interval``."""

    def __init__(self, daemon: Daemon, agent: FleetAgent, stop: StopFlag,
                 restart: Callable[[], None]) -> None:  # fmt: skip
        self.daemon, self.agent, self.stop, self.restart = daemon, agent, stop, restart
        self.fleet = daemon.config.fleet
        self.tally = EventTally()
        daemon.publisher.event_hooks.append(self.tally.add)
        if daemon.config.homeassistant.discovery:
            daemon.publisher.discovery.update(fleet_health_messages(
                daemon.config.homeassistant.prefix, daemon.config.device_slug,
                daemon.config.device_id, daemon.publisher.topics.availability, agent.topics.health,
            ))  # fmt: skip
        self._rate = FrameRateSince()
        self._thread = threading.Thread(target=self._watch, name="fleet-trial", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _watch(self) -> None:
        started = last_progress = time.monotonic()
        frames, next_health = 0, 0.0
        while not self.stop.event.wait(WATCH_SECONDS):
            now = time.monotonic()
            if self.daemon.rate.frames > frames:
                frames, last_progress = self.daemon.rate.frames, now
            if self.agent.store.in_trial:
                self._judge(now - started, now - last_progress, frames)
            if now >= next_health:
                next_health = now + self.fleet.health_interval
                self._publish_health()

    def _judge(self, running: float, stalled: float, frames: int) -> None:
        """``running``: seconds since this start; ``stalled``: since the last frame (or the
        start); ``frames``: processed since the start, at least one to keep the bundle."""
        if stalled >= self.fleet.stall_seconds:
            self.agent.store.roll_back(f"no frame for {stalled:.0f} s during the trial")
            self.agent.report("rolled_back", self.agent.store.state.last_rollback["version"],
                              self.agent.store.state.last_rollback["reason"])  # fmt: skip
            self.restart()
        elif running >= self.fleet.trial_seconds and frames:
            version = self.agent.store.confirm()
            self.agent.report("ok", version)

    def _publish_health(self) -> None:
        fps = self._rate.take(self.daemon.rate.frames)
        message = health_message(self.agent.running, fps, self.daemon.queue.depth(),
                                 self.tally, self.fleet.site, self.fleet.group,
                                 self.fleet.health_interval)  # fmt: skip
        self.agent.link.publish(self.agent.topics.health, json.dumps(message))


def with_bundle(config: Config, store: BundleStore) -> Config:
    bundle = dataclasses.replace(config.bundle, path=store.path(config.bundle.path))
    return dataclasses.replace(config, bundle=bundle)


def start_daemon(config: Config, store: BundleStore, agent: FleetAgent) -> Daemon:
    """The daemon on the store's bundle; a trial bundle that cannot start is rolled back
    at once (reported), and the daemon started on the bundle before it."""
    try:
        return Daemon(with_bundle(config, store))
    except Exception as error:
        if not store.in_trial:
            raise
        store.roll_back(f"cannot start: {type(error).__name__}: {error}")
        rollback = store.state.last_rollback
        agent.report("rolled_back", rollback["version"], rollback["reason"])
        return Daemon(with_bundle(config, store))


class SwitchNotifier(Notifier):
    """systemd is told of a bundle switch as of a reload (``RELOADING=1``, then the new
    process's ``READY=1``), not a stop: ``STOPPING=1`` would have it kill the process
    after ``TimeoutStopSec``."""

    def __init__(self) -> None:
        super().__init__()
        self.switching = threading.Event()

    def stopping(self) -> None:
        if self.switching.is_set():
            self.send(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")
        else:
            super().stopping()


def restart_in_place() -> None:
    """The same command again, in this process (systemd keeps its main PID)."""
    log.info("restarting on bundle switch")
    os.execv(sys.executable, [sys.executable, "-m", "maskwatch", *sys.argv[1:]])


def run_fleet_device(config: Config) -> int:
    store = BundleStore(config.fleet.store_dir)
    store.start()
    stop = StopFlag()
    stop.install()
    notifier = SwitchNotifier()

    def restart() -> None:
        notifier.switching.set()
        stop.event.set()

    agent = FleetAgent(config, store, restart)
    agent.start()
    if store.in_trial:
        agent.report("trial", store.state.current)
    elif store.state.last_rollback:
        last = store.state.last_rollback
        agent.report("rolled_back", last["version"], last["reason"])
    else:
        agent.report("ok")
    daemon = start_daemon(config, store, agent)
    daemon.notifier = notifier
    TrialWatch(daemon, agent, stop, restart).start()
    try:
        code = daemon.run(stop)
    finally:
        agent.close()
    if notifier.switching.is_set():
        restart_in_place()
    return code
