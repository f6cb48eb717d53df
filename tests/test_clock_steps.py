"""Wall-clock steps (a Pi has no RTC; NTP steps its clock by hours) change nothing about
who is in view: no end / new pair, no alarm stuck ON. Events say when the clock is not
yet synchronised."""

import json
import threading
import time

from maskwatch.core.clock import Moment, SystemClock
from maskwatch.core.config import load_config
from maskwatch.service.daemon import Daemon, StopFlag
from tests.conftest import CONFIG, TOPIC
from tests.mjpeg_camera import MjpegCamera, empty_scene, face_scene
from workbench.local_broker import Listener


class SteppableClock:
    """The machine's monotonic time; its wall time moved by ``step`` as NTP would."""

    def __init__(self) -> None:
        self.offset = 0.0

    def step(self, seconds: float) -> None:
        self.offset += seconds

    def now(self) -> Moment:
        return Moment(time.monotonic(), time.time() + self.offset)

    def synced(self) -> bool:
        return False  # as on a Pi before its first NTP answer


def test_wall_clock_steps_neither_end_nor_keep_a_person_in_view(broker, clear_faces, tmp_path):
    camera = MjpegCamera(face_scene(clear_faces["no_mask"][0]))
    config = load_config(CONFIG, [f"mqtt.port={broker.port}", "source.kind='capture'",
                                  f"source.device='{camera.url}'", "tracking.end_after=1.5",
                                  f"queue.path={tmp_path / 'q.sqlite3'}"], {})  # fmt: skip
    clock = SteppableClock()
    daemon = Daemon(config, clock)
    listener = Listener(broker.port, f"{TOPIC}/#")
    alarm = f"{TOPIC}/no_mask"
    stop = StopFlag()
    runner = threading.Thread(target=daemon.run, args=(stop,))
    runner.start()
    try:
        assert listener.wait_for(lambda lst: lst.payloads(alarm)[-1:] == [b"ON"], timeout=60)
        clock.step(2 * 3600)  # forward: the person must not end and come back as new
        time.sleep(3.0)
        clock.step(-3600)  # backward: the person must not be kept in view for an hour
        time.sleep(3.0)
        assert listener.payloads(alarm)[-1] == b"ON"  # still in view all along
        camera.show(empty_scene())  # the person leaves
        left = time.monotonic()
        assert listener.wait_for(lambda lst: lst.payloads(alarm)[-1] == b"OFF", timeout=10)
        assert time.monotonic() - left < 1.5 + 2.0
    finally:
        stop.event.set()
        runner.join(30)
        camera.close()
    assert listener.wait_for(lambda lst: lst.payloads(f"{TOPIC}/availability")[-1:] == [b"offline"])
    listener.close()
    events = [json.loads(p) for p in listener.payloads(f"{TOPIC}/events")]
    unmasked = [(e["type"], e["track_id"]) for e in events if e["label"] == "no_mask"]
    assert len(unmasked) == 2 and [kind for kind, _ in unmasked] == ["new", "end"], events
    assert unmasked[0][1] == unmasked[1][1]  # one person, one track
    assert all(e["clock_synced"] is False for e in events)


def test_the_clock_counts_as_synchronised_once_timesyncd_says_so_or_when_trusted(tmp_path):
    flag = tmp_path / "synchronized"
    clock = SystemClock(flag=flag)
    assert clock.synced() is False
    flag.touch()
    assert clock.synced() is True
    assert SystemClock(trusted=True, flag=tmp_path / "absent").synced() is True


def test_a_recording_is_timed_by_its_own_clock_and_goes_on_when_it_loops():
    from maskwatch.core.clock import MediaClock

    clock = MediaClock(Moment(100.0, 5000.0))
    assert clock.at(0.0) == Moment(100.0, 5000.0)
    assert clock.at(0.5) == Moment(100.5, 5000.5)
    assert clock.at(1.0) == Moment(101.0, 5001.0)
    # Looping starts the offsets over: time goes on, one frame step after the last frame.
    assert clock.at(0.0) == Moment(101.5, 5001.5)
    assert clock.at(0.5) == Moment(102.0, 5002.0)
