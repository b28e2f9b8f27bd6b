"""transforms/pose_transforms.py: PoseCompact, UniformSampleFrames, Flip, Resize, RandomResizedCrop."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from posebeam.schemas.layouts import COCO17
from posebeam.transforms.pose_transforms import (
    flip_keypoints,
    pose_compact,
    random_resized_crop,
    resize_keypoints,
    short_side_shape,
    uniform_sample_frames,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from pyskl_reference import uniform_sample_loop


def box_keypoints() -> np.ndarray:
    """(T=2, M=1, K=3, 2): non-zero x spans 10..30, y spans 20..60; (0, 0) joints are missing."""
    return np.array([[[[10, 20], [30, 40], [0, 0]]], [[[20, 60], [0, 0], [15, 30]]]], dtype=np.float32)


def test_pose_compact_golden_box_is_a_padded_square() -> None:
    # centre (20, 40); half extents 10·1.25 = 12.5 and 20·1.25 = 25 → both 25 with hw_ratio 1.
    out = pose_compact(box_keypoints(), (100, 100))
    assert out.box == (-5, 15, 45, 65)
    assert out.img_shape == (50, 50)
    assert out.keypoints.dtype == np.float32
    np.testing.assert_array_equal(out.keypoints[0, 0], [[15, 5], [35, 25], [0, 0]])  # missing stays 0
    np.testing.assert_array_equal(box_keypoints()[0, 0, 0], [10, 20])  # input untouched


def test_pose_compact_without_ratio_or_padding_into_the_image() -> None:
    free = pose_compact(box_keypoints(), (100, 100), hw_ratio=None)
    assert free.box == (int(20 - 12.5), 15, int(20 + 12.5), 65) == (7, 15, 32, 65)
    clipped = pose_compact(box_keypoints(), (64, 40), allow_imgpad=False)
    assert clipped.box == (0, 15, 40, 64)
    assert clipped.img_shape == (49, 40)


def test_pose_compact_leaves_small_boxes_and_treats_nan_as_missing() -> None:
    small = np.array([[[[10, 20], [19, 60]]]], dtype=np.float32)  # 9 px wide < threshold 10
    out = pose_compact(small, (100, 80))
    assert out.box == (0, 0, 80, 100) and out.img_shape == (100, 80)
    np.testing.assert_array_equal(out.keypoints, small)
    with_nan = box_keypoints()
    with_nan[1, 0, 1] = np.nan
    assert pose_compact(with_nan, (100, 100)).box == (-5, 15, 45, 65)


def test_sampling_shorter_than_clip_loops_in_test_mode() -> None:
    np.testing.assert_array_equal(uniform_sample_frames(5, 8, test_mode=True), [0, 1, 2, 3, 4, 0, 1, 2])
    two = uniform_sample_frames(5, 8, num_clips=2, test_mode=True)  # clip 1 starts at 1·5 // 2 = 2
    np.testing.assert_array_equal(two, [0, 1, 2, 3, 4, 0, 1, 2, 2, 3, 4, 0, 1, 2, 3, 4])
    one_frame = uniform_sample_frames(1, 3, num_clips=2, test_mode=True)
    np.testing.assert_array_equal(one_frame, [0, 0, 0, 0, 0, 0])


def test_sampling_shorter_than_clip_loops_in_train_mode() -> None:
    for seed in range(20):
        inds = uniform_sample_frames(5, 8, rng=np.random.default_rng(seed))
        assert len(inds) == 8
        assert np.all((inds[1:] - inds[:-1]) % 5 == 1)  # consecutive frames, looping


@pytest.mark.parametrize("test_mode", [False, True])
def test_sampling_between_one_and_two_clips_steps_by_one_or_two(test_mode: bool) -> None:
    for n in (48, 49, 60, 95):
        for seed in range(10):
            inds = uniform_sample_frames(n, 48, test_mode=test_mode, rng=np.random.RandomState(seed))
            steps = np.diff(inds)
            assert len(inds) == 48 and inds[0] >= 0 and inds[-1] <= n - 1
            assert set(steps.tolist()) <= {1, 2}


@pytest.mark.parametrize("test_mode", [False, True])
def test_sampling_long_sequences_draws_one_frame_per_bin(test_mode: bool) -> None:
    n, clip_len = 1000, 48
    bins = [i * n // clip_len for i in range(clip_len + 1)]
    for seed in range(5):
        inds = uniform_sample_frames(
            n, clip_len, num_clips=3, test_mode=test_mode, rng=np.random.default_rng(seed)
        )
        assert len(inds) == 3 * clip_len
        for clip in inds.reshape(3, clip_len):
            assert all(lo <= i < hi for i, lo, hi in zip(clip, bins[:-1], bins[1:], strict=True))


def test_test_mode_is_deterministic_and_leaves_the_global_rng_alone() -> None:
    np.random.seed(0)
    _, keys, pos, *_ = np.random.get_state()
    first = uniform_sample_frames(300, 48, num_clips=10, test_mode=True)
    assert np.array_equal(first, uniform_sample_frames(300, 48, num_clips=10, test_mode=True))
    uniform_sample_frames(300, 48, rng=np.random.default_rng(1))
    _, keys_after, pos_after, *_ = np.random.get_state()
    assert pos_after == pos and np.array_equal(keys_after, keys)
    # With PYSKL's np.random.seed(255): one frame in each bin [0, 2, 5, 7, 10) ...
    np.testing.assert_array_equal(uniform_sample_frames(10, 4, test_mode=True), [1, 3, 5, 8])
    # ... and, for 4 <= n < 8, one-frame gaps before indices 0 and 3.
    np.testing.assert_array_equal(uniform_sample_frames(6, 4, test_mode=True), [1, 2, 3, 5])


@pytest.mark.parametrize("n", [1, 7, 30, 48, 50, 95, 96, 97, 500])
@pytest.mark.parametrize("num_clips", [1, 10])
def test_sampling_reproduces_the_pyskl_loop(n: int, num_clips: int) -> None:
    np.random.seed(11)
    train = uniform_sample_loop(n, 48, num_clips)
    ours = uniform_sample_frames(n, 48, num_clips=num_clips, rng=np.random.RandomState(11))
    np.testing.assert_array_equal(ours, train)
    test = uniform_sample_loop(n, 48, num_clips, test_mode=True)
    np.testing.assert_array_equal(uniform_sample_frames(n, 48, num_clips=num_clips, test_mode=True), test)


def test_flip_mirrors_x_and_swaps_left_and_right() -> None:
    keypoints = np.zeros((1, 1, 17, 2), dtype=np.float32)
    keypoints[0, 0, 0] = [32, 5]  # nose
    keypoints[0, 0, 1] = [10, 6]  # left eye
    keypoints[0, 0, 2] = [20, 7]  # right eye
    keypoints[0, 0, 3] = [0, 8]  # left ear with a missing x
    scores = np.linspace(0.1, 0.9, 17, dtype=np.float32).reshape(1, 1, 17)
    flipped, flipped_scores = flip_keypoints(keypoints, scores, 64, COCO17.flip_index())
    assert flipped_scores is not None
    np.testing.assert_array_equal(flipped[0, 0, 0], [32, 5])
    np.testing.assert_array_equal(flipped[0, 0, 1], [44, 7])  # the old right eye, x → 64 - 20
    np.testing.assert_array_equal(flipped[0, 0, 2], [54, 6])
    np.testing.assert_array_equal(flipped[0, 0, 4], [0, 8])  # zero x stays zero (missing)
    assert flipped_scores[0, 0, 1] == scores[0, 0, 2] and flipped_scores[0, 0, 2] == scores[0, 0, 1]
    again, _ = flip_keypoints(flipped, None, 64, COCO17.flip_index())
    np.testing.assert_array_equal(again, keypoints)


def test_resize_scales_each_axis() -> None:
    keypoints = np.array([[[[100, 50], [0, 0], [40, 0]]]], dtype=np.float32)
    out = resize_keypoints(keypoints, (100, 200), (50, 50))  # (h, w): x · 0.25, y · 0.5
    np.testing.assert_allclose(out[0, 0], [[25, 25], [0, 0], [10, 0]])
    assert short_side_shape((480, 640), 64) == (64, 85)  # 640 · 64 / 480 = 85.3
    assert short_side_shape((50, 50), 64) == (64, 64)


def test_random_resized_crop_stays_inside_and_shifts_keypoints() -> None:
    keypoints = np.array([[[[30, 40], [0, 0], [55, 12]]]], dtype=np.float32)
    for seed in range(30):
        out = random_resized_crop(keypoints, (64, 80), np.random.default_rng(seed))
        x1, y1, x2, y2 = out.box
        assert 0 <= x1 < x2 <= 80 and 0 <= y1 < y2 <= 64
        assert out.img_shape == (y2 - y1, x2 - x1)
        area = (x2 - x1) * (y2 - y1) / (64 * 80)
        assert 0.56 - 0.03 <= area <= 1.0
        assert 3 / 4 - 0.05 <= (x2 - x1) / (y2 - y1) <= 4 / 3 + 0.05
        np.testing.assert_array_equal(out.keypoints[0, 0], [[30 - x1, 40 - y1], [0, 0], [55 - x1, 12 - y1]])
    same = [random_resized_crop(keypoints, (64, 80), np.random.RandomState(3)).box for _ in range(2)]
    assert same[0] == same[1]


def test_random_resized_crop_falls_back_to_the_centre_square() -> None:
    keypoints = np.array([[[[30, 20]]]], dtype=np.float32)
    rng = np.random.default_rng(0)
    out = random_resized_crop(keypoints, (40, 60), rng, area_range=(1.0, 1.0), aspect_ratio_range=(3.0, 3.0))
    assert out.box == (10, 0, 50, 40)  # no 3:1 crop of the whole area fits
    np.testing.assert_array_equal(out.keypoints[0, 0, 0], [20, 20])
