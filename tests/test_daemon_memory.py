"""10,000 frames through the running daemon do not grow its memory (issue 5: < 5 MB)."""

import json

import cv2
import numpy as np

from tests.conftest import TOPIC, start_daemon, terminate
from workbench.local_broker import Listener

FRAMES = 10_000
WARM_UP = 1_500  # paho, SQLite's cache and the 512-sample latency windows fill up first
STATS = f"{TOPIC}/stats"


def test_ten_thousand_frames_do_not_grow_memory(broker, data_root, tmp_path):
    """A small frame with one real face, 20 frames in view then 5 empty: a person comes and
    goes every 25 frames, so tracks, events, the queue and MQTT all keep working."""
    scene = cv2.imread(str(data_root / "scenes-voc" / "images" / "maksssksksss10.jpg"))
    face = cv2.resize(scene, (160, 212))
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(20):
        cv2.imwrite(str(frames / f"a{i:02d}.jpg"), face)
    for i in range(5):
        cv2.imwrite(str(frames / f"b{i:02d}.jpg"), np.full_like(face, 127))
    listener = Listener(broker.port, f"{TOPIC}/#")
    daemon = start_daemon(
        broker, frames, "--set", "source.loop=true", "--set", "mqtt.stats_interval=1.0",
        "--set", "tracking.end_after=0.0",
    )  # fmt: skip

    def stats():
        return [json.loads(p) for p in listener.payloads(STATS)]

    try:
        assert listener.wait_for(lambda _: stats() and stats()[-1]["frames"] >= FRAMES, 300)
        terminate(daemon)
    finally:
        if daemon.poll() is None:
            daemon.kill()
        listener.close()
    samples = stats()
    baseline = next(s for s in samples if s["frames"] >= WARM_UP)
    final = next(s for s in samples if s["frames"] >= FRAMES)
    growth = final["rss_mb"] - baseline["rss_mb"]
    print(f"RSS {baseline['rss_mb']} MB at frame {baseline['frames']}, "
          f"{final['rss_mb']} MB at frame {final['frames']}: {growth:+.1f} MB")  # fmt: skip
    assert growth < 5.0
    assert final["events"] >= 2 * (FRAMES // 25) * 0.9  # people really came and went
    assert final["queue_depth"] < 25
