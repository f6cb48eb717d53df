"""Tracking: one person is one 'new', a flicker changes nothing, leaving ends the track."""

from maskwatch.core.clock import Moment
from maskwatch.core.config import TrackingConfig
from maskwatch.tracking.tracker import Tracker
from maskwatch.vision.pipeline import Face


def face(x, label="no_mask", score=0.9):
    return Face((x, 100, x + 60, 170), label, score, 0.9)


def kinds(events):
    return [(e.kind, e.track.track_id, e.label) for e in events]


def at(seconds):
    return Moment(seconds, 1.7e9 + seconds)


def run(tracker, frames, start=0.0, step=0.1):
    events = []
    for i, faces in enumerate(frames):
        events += tracker.update(faces, at(start + i * step))
    return events


def test_two_people_walking_past_are_two_news():
    tracker = Tracker(TrackingConfig(confirm_frames=3))
    frames = [[face(10 + 5 * i), face(300 - 5 * i, "mask")] for i in range(20)]
    assert kinds(run(tracker, frames)) == [("new", 1, "no_mask"), ("new", 2, "mask")]
    assert tracker.counts() == {"no_mask": 1, "mask": 1}


def test_nothing_is_reported_before_confirmation():
    tracker = Tracker(TrackingConfig(confirm_frames=3))
    assert run(tracker, [[face(10)], [face(12)]]) == []
    assert kinds(tracker.update([face(14)], at(0.3))) == [("new", 1, "no_mask")]


def test_a_single_odd_frame_changes_nothing_but_a_lasting_change_updates():
    tracker = Tracker(TrackingConfig(confirm_frames=3, vote_window=5))
    labels = ["no_mask"] * 4 + ["mask"] + ["no_mask"] * 3 + ["mask"] * 6
    events = run(tracker, [[face(10 + i, label)] for i, label in enumerate(labels)])
    assert kinds(events) == [("new", 1, "no_mask"), ("update", 1, "mask")]


def test_a_person_who_leaves_ends_after_the_configured_time():
    tracker = Tracker(TrackingConfig(confirm_frames=2, end_after=1.0, return_within=0.0))
    run(tracker, [[face(10)], [face(12)], [face(14)]])
    assert tracker.update([], at(1.0)) == []  # unseen 0.8 s
    assert kinds(tracker.update([], at(1.3))) == [("end", 1, "no_mask")]
    assert tracker.tracks == []


def test_a_person_who_leaves_the_counts_ends_only_once_they_cannot_be_back():
    """end_after takes them out of the counts (the alarm); the end follows return_within
    later, and nobody is left behind."""
    tracker = Tracker(TrackingConfig(confirm_frames=2, end_after=1.0, return_within=2.0))
    run(tracker, [[face(10)], [face(12)], [face(14)]])
    assert tracker.update([], at(1.3)) == [] and tracker.counts() == {}
    assert tracker.update([], at(3.1)) == []  # unseen 2.9 s: they could still come back
    assert kinds(tracker.update([], at(3.3))) == [("end", 1, "no_mask")]
    assert tracker.tracks == [] and tracker.lost == []


def test_an_unconfirmed_glimpse_vanishes_without_events():
    tracker = Tracker(TrackingConfig(confirm_frames=3, end_after=0.5))
    assert run(tracker, [[face(10)], [], [], [], [], [], [], []]) == []
    assert tracker.tracks == []


def test_shutdown_ends_every_confirmed_track():
    tracker = Tracker(TrackingConfig(confirm_frames=1))
    run(tracker, [[face(10), face(300, "mask")]])
    assert sorted(kinds(tracker.expire())) == [("end", 1, "no_mask"), ("end", 2, "mask")]


def test_the_event_score_is_the_probability_of_the_confirmed_label():
    tracker = Tracker(TrackingConfig(confirm_frames=1, vote_window=3))
    run(tracker, [[face(10, "mask", 0.8)], [face(11, "mask", 0.8)], [face(12, "no_mask", 0.6)]])
    (track,) = tracker.tracks
    # The latest face says no_mask (an odd frame): the score stays the latest probability
    # given to "mask", as with three labels 1 - 0.6 would not be P(mask).
    assert track.label == "mask" and track.score == 0.8
    run(tracker, [[face(13, "mask", 0.7)]], start=0.3)
    assert track.score == 0.7


def test_unsure_faces_are_followed_but_do_not_vote():
    tracker = Tracker(TrackingConfig(confirm_frames=3), min_label_score=0.8)
    unsure = [[face(10 + i, "mask", score=0.55)] for i in range(4)]
    assert run(tracker, unsure) == []  # seen four times, but no vote yet: not confirmed
    assert kinds(tracker.update([face(15, "no_mask", score=0.95)], at(0.5))) == [
        ("new", 1, "no_mask")
    ]


def test_ages_run_on_the_monotonic_clock_whatever_the_wall_clock_does():
    """NTP steps the wall clock by hours on a Pi; people in view are neither ended
    (forward step) nor kept (backward step) by it."""
    tracker = Tracker(TrackingConfig(confirm_frames=1, end_after=1.0, return_within=0.0))
    assert kinds(tracker.update([face(10)], Moment(0.0, 1000.0))) == [("new", 1, "no_mask")]
    assert tracker.update([face(11)], Moment(0.5, 1000.5 + 7200)) == []  # 2 h forward
    assert tracker.update([face(12)], Moment(1.0, 1001.0 - 3600)) == []  # 1 h back
    assert tracker.expire(1.9) == []
    assert kinds(tracker.expire(2.1)) == [("end", 1, "no_mask")]


def walker(x, width=40, y=300):
    return Face((x, y, x + width, y + width), "mask", 0.9, 0.9)


def test_a_walker_missed_for_a_while_is_picked_up_where_their_motion_took_them():
    """A far face walking 8 px a frame, not found for 10 frames (80 px: two face widths,
    no overlap with where it was lost), is still one person."""
    tracker = Tracker(TrackingConfig(confirm_frames=3, end_after=2.0))
    seen = [i for i in range(30) if not 5 <= i < 15]
    events = []
    for i in range(30):
        events += tracker.update([walker(100 + 8 * i)] if i in seen else [], at(i / 15))
    assert kinds(events) == [("new", 1, "mask")]
    assert len(tracker.tracks) == 1 and tracker.tracks[0].frames == len(seen)


def test_a_face_that_jumps_less_than_its_width_is_the_same_person_only_with_max_shift():
    """A region's detection and a full-frame pass box a small face differently: no IoU
    of 0.3 with the last box, yet the centre moved less than one face width."""
    frames = [[walker(100, 30)], [walker(100, 30)], [walker(118, 38)], [walker(119, 38)]]
    linked = Tracker(TrackingConfig(confirm_frames=2, max_shift=1.0))
    assert [e.kind for e in run(linked, frames)] == ["new"]
    overlap_only = Tracker(TrackingConfig(confirm_frames=2, max_shift=0.0))
    assert [e.kind for e in run(overlap_only, frames)] == ["new", "new"]


def test_two_people_side_by_side_are_not_taken_for_one():
    """Two faces 60 px wide, 90 px apart (centre to centre): each keeps its own track,
    also when one is missed for a frame and the other moves towards its place."""
    tracker = Tracker(TrackingConfig(confirm_frames=2))
    frames = [[face(100), face(190, "mask")] for _ in range(4)]
    frames += [[face(130)], [face(100), face(190, "mask")], [face(100), face(190, "mask")]]
    assert kinds(run(tracker, frames)) == [("new", 1, "no_mask"), ("new", 2, "mask")]
    assert tracker.counts() == {"no_mask": 1, "mask": 1}


def test_faces_whose_label_was_carried_over_do_not_vote():
    tracker = Tracker(TrackingConfig(confirm_frames=2, vote_window=3))
    fresh = face(10, "no_mask")
    carried = Face(fresh.box, "mask", 0.9, 0.9, classified=False)
    events = run(tracker, [[fresh], [fresh], [carried], [carried], [carried], [carried]])
    assert kinds(events) == [("new", 1, "no_mask")]  # four carried "mask" faces: no update
    (track,) = tracker.tracks
    assert list(track.votes) == ["no_mask", "no_mask"]
    assert track.classified_frames == 2 and track.since_classified == 4


def look(colour):
    """A clothes descriptor as appearance.describe makes it, for a plain colour."""
    import numpy as np

    from maskwatch.tracking.appearance import describe

    frame = np.zeros((400, 400, 3), np.uint8)
    frame[:] = colour
    return describe(frame, (150, 50, 210, 120))


def test_a_face_found_again_in_the_same_clothes_is_the_same_visit():
    """Hidden for 3 s (longer than end_after: out of the counts), back 90 px away in the
    same clothes: no second new; someone else in other clothes is new."""
    tracker = Tracker(TrackingConfig(confirm_frames=2, end_after=2.0, return_within=3.0))
    red, blue = look((0, 0, 200)), look((200, 60, 0))
    for i in range(5):
        tracker.update([face(100)], at(i * 0.1), looks=[red])
    assert tracker.update([], at(2.5)) == [] and tracker.counts() == {}
    events = []
    for i in range(5):
        events += tracker.update([face(190)], at(3.5 + i * 0.1), looks=[red])
    assert events == [] and tracker.counts() == {"no_mask": 1}
    assert [t.track_id for t in tracker.tracks] == [1]
    for i in range(30):  # they leave; someone in blue comes to the same place
        events += tracker.update([], at(4.0 + i * 0.1))
    for i in range(5):
        events += tracker.update([face(190)], at(6.5 + i * 0.1), looks=[blue])
    assert kinds(events) == [("new", 2, "no_mask")]


def test_clothes_alone_do_not_link_a_face_too_far_to_have_walked():
    tracker = Tracker(TrackingConfig(confirm_frames=2, end_after=2.0, return_within=3.0))
    red = look((0, 0, 200))
    for i in range(5):
        tracker.update([face(100)], at(i * 0.1), looks=[red])
    events = []
    for i in range(5):  # 0.5 s later, 1,000 px away: 16 face widths in half a second
        events += tracker.update([face(1100)], at(1.0 + i * 0.1), looks=[red])
    assert kinds(events) == [("new", 2, "no_mask")]


def test_a_face_not_masked_only_by_the_operating_point_votes_however_unsure():
    """P(mask) 0.6 under mask_min_score 0.9: called no_mask with P(no_mask) 0.3, under
    min_label_score, yet it votes: for an alarm, not surely masked is not masked."""
    tracker = Tracker(TrackingConfig(confirm_frames=3), min_label_score=0.7)
    demoted = [[Face((10 + i, 100, 70 + i, 170), "no_mask", 0.3, 0.9, demoted=True)]
               for i in range(3)]  # fmt: skip
    assert kinds(run(tracker, demoted)) == [("new", 1, "no_mask")]
    unsure = Tracker(TrackingConfig(confirm_frames=3), min_label_score=0.7)
    assert run(unsure, [[face(10 + i, "no_mask", 0.3)] for i in range(3)]) == []
