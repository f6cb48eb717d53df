"""Real video's hard moments, rendered with known people and run through the daemon's own
frame loop: one ``new`` per person per visit, label changes as ``update``, the alarm right
within a second; and ``replay`` gives exactly the daemon's events for the same video."""

import json

import pytest

from maskwatch.core.bundle import load_bundle
from maskwatch.core.config import load_config
from maskwatch.vision.pipeline import MaskPipeline
from tests.conftest import CONFIG, TOPIC, maskwatch, start_daemon
from workbench import hard_sequences, track_bench
from workbench.door_stage import build_stage, write_clip
from workbench.local_broker import Listener

ALARM_WITHIN = 1.0  # s, for someone arriving and for a label change


@pytest.fixture(scope="module")
def sequences(data_root, bundle_dir):
    stage = build_stage(data_root, load_bundle(bundle_dir))
    return {hard.name: hard.sequence for hard in hard_sequences.build(stage)}


def scores(sequences, bundle_dir, *overrides):
    config = load_config(CONFIG, [*overrides, "pipeline.threads=1"], {})
    pipeline = MaskPipeline.from_config(load_bundle(bundle_dir), config.pipeline)
    return {name: track_bench.run(seq, config, pipeline) for name, seq in sequences.items()}


def test_every_person_is_one_new_per_visit_and_the_alarm_follows_within_a_second(
    sequences, bundle_dir
):
    """Tracking's targets. Extra updates while a masked face is half hidden, and an alarm
    held by a false face in the background, are the classifier's and the detector's
    (issue 22, docs/tracking.md): every real label change must still come as an update."""
    end_after = load_config(CONFIG, [], {}).tracking.end_after
    for name, score in scores(sequences, bundle_dir).items():
        assert score.duplicate_news == 0, name
        assert score.news - score.false_news == score.people, name  # nobody missed
        assert score.updates >= score.label_changes, name
        latencies = score.latencies
        for kind in ("arrive", "label"):
            assert track_bench.worst(latencies.get(kind, [])) <= ALARM_WITHIN, (name, kind)
        if not score.false_news:  # leaving: followed for end_after seconds unseen
            assert track_bench.worst(latencies.get("leave", [])) <= end_after + ALARM_WITHIN, name


def test_without_re_linking_a_turned_head_and_a_return_are_counted_twice(sequences, bundle_dir):
    """What re-linking by clothes fixes: the same sequences, return_within = 0."""
    chosen = {name: sequences[name] for name in ("head_down", "out_and_back")}
    for name, score in scores(chosen, bundle_dir, "tracking.return_within=0").items():
        assert score.duplicate_news >= 1, name


def test_replay_gives_the_daemons_events_for_the_same_video(sequences, broker, tmp_path):
    clip = write_clip(sequences["mask_down_up"], tmp_path / "clip.avi")
    replayed = tmp_path / "replay.jsonl"
    result = maskwatch("replay", "--config", str(CONFIG), str(clip), "--events", str(replayed),
                       timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    listener = Listener(broker.port, f"{TOPIC}/events")
    daemon = start_daemon(broker, clip, "--set", "source.kind='video'",
                          "--set", "source.max_fps=0")  # fmt: skip
    expected = story(json.loads(line) for line in replayed.read_text().splitlines())
    assert ("update", 1, "mask_incorrect") in expected  # the sequence has a story to tell
    try:
        assert daemon.wait(timeout=300) == 0, daemon.stderr.read()[-2000:]
        listener.wait_for(lambda lst: len(lst.payloads(f"{TOPIC}/events")) >= len(expected), 10)
        sent = [json.loads(p) for p in listener.payloads(f"{TOPIC}/events")]
    finally:
        listener.close()
    assert story(sent) == expected


def story(events) -> list[tuple]:
    return [(e["type"], e["track_id"], e["label"]) for e in events]
