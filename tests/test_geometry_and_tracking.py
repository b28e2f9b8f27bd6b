"""transforms/: boxes, crops, frame clamping, fps sampling and the IoU tracker."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from posebeam.schemas.records import keep_inside_frame
from posebeam.transforms.boxes import (
    crop_to_frame,
    iou_matrix,
    nms,
    square_crop_transform,
)
from posebeam.transforms.sampling import FpsSampler
from posebeam.transforms.tracking import PersonTracker


def test_iou_golden_values() -> None:
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]])
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0, 0.0]])


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]])
    assert nms(boxes, np.array([0.5, 0.9, 0.7]), iou_threshold=0.5).tolist() == [1, 2]


@given(st.floats(0, 500), st.floats(0, 500), st.floats(1, 300), st.floats(1, 300), st.floats(0, 1))
def test_crop_transform_round_trips_and_centres_the_box(
    x: float, y: float, w: float, h: float, padding: float
) -> None:
    box = np.array([x, y, x + w, y + h])
    transform = square_crop_transform(box, 256, padding)
    centre = transform @ np.array([x + w / 2, y + h / 2, 1.0])
    np.testing.assert_allclose(centre, [128, 128], atol=1e-6)
    corners = np.array([[0.0, 0.0], [256.0, 256.0]])
    side = crop_to_frame(corners, transform)
    assert side[1, 0] - side[0, 0] == pytest.approx(max(w, h, 1.0) * (1 + padding))


def test_joints_outside_the_frame_are_clamped_with_zero_confidence() -> None:
    keypoints = np.array([[[5.0, 5.0, 0.9], [-3.0, 5.0, 0.8], [50.0, 120.0, 0.7]]])
    out = keep_inside_frame(keypoints, width=100, height=100)
    np.testing.assert_allclose(out[0], [[5, 5, 0.9], [0, 5, 0], [50, 99, 0]], rtol=1e-6)


def test_fps_sampler_keeps_one_frame_per_bucket() -> None:
    sampler = FpsSampler(fps=2.0)
    timestamps = np.arange(0, 3, 1 / 30)
    kept = [t for t in timestamps if sampler.keep(float(t))]
    np.testing.assert_allclose(kept, [0, 0.5, 1.0, 1.5, 2.0, 2.5], atol=1e-9)
    assert all(FpsSampler(None).keep(t) for t in (0.0, 0.0, 1.0))


def _walker(x: float) -> list[float]:
    return [x, 10.0, x + 20.0, 60.0]


def test_tracker_keeps_ids_of_two_people_walking_towards_each_other() -> None:
    tracker = PersonTracker()
    ids = [tracker.update(np.array([_walker(2 * t), _walker(200 - 2 * t)]), t / 10) for t in range(20)]
    assert all(frame.tolist() == [0, 1] for frame in ids)


def test_tracker_bridges_short_gaps_and_retires_long_ones() -> None:
    tracker = PersonTracker(max_gap_s=1.0)
    assert tracker.update(np.array([_walker(0)]), 0.0).tolist() == [0]
    assert tracker.update(np.zeros((0, 4)), 0.5).tolist() == []
    assert tracker.update(np.array([_walker(1)]), 0.9).tolist() == [0]
    assert tracker.update(np.array([_walker(1)]), 2.5).tolist() == [1], "retired ids are never reused"


def test_tracker_never_matches_below_min_iou() -> None:
    tracker = PersonTracker(min_iou=0.5)
    tracker.update(np.array([_walker(0)]), 0.0)
    assert tracker.update(np.array([_walker(12)]), 0.1).tolist() == [1]


def _box(x: float, y: float = 10.0, w: float = 20.0, h: float = 50.0) -> list[float]:
    return [x, y, x + w, y + h]


def test_two_walkers_crossing_keep_their_ids() -> None:
    """Same height, opposite directions, boxes passing through each other: velocity keeps them apart."""
    tracker = PersonTracker()
    frames = []
    for t in range(40):
        a, b = _box(20 + 6 * t), _box(260 - 6 * t)
        detections = [a, b] if t % 2 else [b, a]  # detection order carries no identity
        ids = tracker.update(np.array(detections), t / 10)
        frames.append(ids.tolist() if t % 2 else ids[::-1].tolist())
    assert sorted(frames[0]) == [0, 1] and all(frame == frames[0] for frame in frames), frames


def test_a_track_survives_two_missed_detections_and_a_weak_one() -> None:
    tracker = PersonTracker(max_gap_s=1.0)
    positions = {t: _box(10 + 8 * t) for t in range(12)}
    ids = []
    for t, box in positions.items():
        if t in (4, 5):  # missed by the detector
            assert tracker.update(np.zeros((0, 4)), t / 10).tolist() == []
            continue
        score = 0.15 if t == 6 else 0.9  # half hidden: a weak detection
        ids.append(int(tracker.update(np.array([box]), t / 10, np.array([score]))[0]))
    assert ids == [0] * 10


def test_an_occluded_walker_is_found_again_further_along_the_path() -> None:
    """Hidden behind a standing person for 0.6 s, the walker reappears 36 px on: the coasting
    track still overlaps the new box (a last-seen box would not)."""
    tracker = PersonTracker()
    stander = _box(100, w=24)
    for t in range(20):
        walker = _box(40 + 6 * t)
        hidden = 10 <= t < 16
        boxes = [stander] if hidden else [stander, walker]
        ids = tracker.update(np.array(boxes), t / 10)
        assert ids[0] == 0
        if not hidden:
            assert ids[1] == 1, t


def test_a_weak_detection_never_starts_a_track() -> None:
    tracker = PersonTracker(high_score=0.4)
    assert tracker.update(np.array([_box(0), _box(100)]), 0.0, np.array([0.9, 0.2])).tolist() == [0, -1]


def test_while_warming_up_a_weak_detection_starts_a_provisional_track() -> None:
    tracker = PersonTracker(high_score=0.4)
    ids = tracker.update(np.array([_box(0), _box(100)]), 0.0, np.array([0.9, 0.2]), start_weak=True)
    assert ids.tolist() == [0, 1]
    later = tracker.update(np.array([_box(2), _box(102)]), 0.1, np.array([0.9, 0.2]))  # warmed up
    assert later.tolist() == [0, 1]  # the weak walker keeps the provisional track
    assert tracker.update(np.array([_box(300)]), 0.2, np.array([0.2])).tolist() == [-1]
