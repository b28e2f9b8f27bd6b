"""transforms/heatmaps.py: PYSKL GeneratePoseTarget semantics, golden values and the loop reference."""

from __future__ import annotations

import math
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posebeam.schemas.layouts import COCO17
from posebeam.transforms.heatmaps import (
    channel_flip_index,
    flip_heatmaps,
    render_heatmaps,
    render_pose_volume,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from pyskl_reference import render_loop

SIGMA2 = 0.6**2


def gauss(d2: float, score: float = 1.0) -> float:
    return score * math.exp(-d2 / (2 * SIGMA2))


def one_joint(x: float, y: float, score: float, size: int = 16) -> np.ndarray:
    """The (H, W) map of a single joint of a single person in a single frame."""
    keypoints = np.array([x, y], dtype=np.float32).reshape(1, 1, 1, 2)
    return render_heatmaps(keypoints, np.array([[[score]]], dtype=np.float32), size, size)[0, 0]


def one_limb(
    a: tuple[float, float], b: tuple[float, float], scores: tuple[float, float], **kwargs: float
) -> np.ndarray:
    keypoints = np.array([a, b], dtype=np.float32).reshape(1, 1, 2, 2)
    values = np.array(scores, dtype=np.float32).reshape(1, 1, 2)
    return render_heatmaps(keypoints, values, 16, 16, limbs=[(0, 1)], **kwargs)[0, 0]


def test_joint_gaussian_golden_values() -> None:
    hm = one_joint(3.0, 4.0, 0.8)
    assert hm.dtype == np.float32 and hm.shape == (16, 16)  # rows are y, columns are x
    assert hm[4, 3] == pytest.approx(0.8, rel=1e-6)
    assert hm[4, 4] == pytest.approx(gauss(1.0, 0.8), rel=1e-6)
    assert hm[5, 4] == pytest.approx(gauss(2.0, 0.8), rel=1e-6)
    assert hm[4, 7] == 0.0 and hm[9, 3] == 0.0  # outside the 3σ window


def test_joint_window_follows_int_truncation() -> None:
    # x window = [int(3 - 1.8), int(3 + 1.8) + 1) = [1, 5): distance 2 is kept on the left only.
    hm = one_joint(3.0, 4.0, 1.0)
    assert hm[4, 1] == pytest.approx(gauss(4.0), rel=1e-6)
    assert hm[4, 5] == 0.0
    assert np.count_nonzero(hm) == 4 * 4
    # x = 3.3: [int(1.5), int(5.1) + 1) = [1, 6): now x = 5 (distance 1.7) is inside.
    assert one_joint(3.3, 4.0, 1.0)[4, 5] == pytest.approx(gauss(1.7**2), rel=1e-5)


def test_negative_coordinates_truncate_toward_zero() -> None:
    # x = -2: end = int(-0.2) + 1 = 1 (floor would give 0), so column 0 is drawn.
    hm = one_joint(-2.0, 4.0, 1.0)
    assert hm[4, 0] == pytest.approx(gauss(4.0), rel=1e-6)
    assert np.count_nonzero(hm) == 4
    assert not one_joint(-3.0, 4.0, 1.0).any()  # end = int(-1.2) + 1 = 0: empty window
    assert not one_joint(20.0, 4.0, 1.0).any()


def test_persons_merge_by_max_not_sum() -> None:
    keypoints = np.array([[[[5.0, 5.0]], [[5.0, 5.0]], [[6.0, 5.0]]]], dtype=np.float32)
    scores = np.array([[[0.3], [0.6], [0.5]]], dtype=np.float32)
    hm = render_heatmaps(keypoints, scores, 12, 12)[0, 0]
    assert hm[5, 5] == pytest.approx(0.6, rel=1e-6)
    assert hm[5, 6] == pytest.approx(max(0.5, gauss(1.0, 0.6)), rel=1e-6)


def test_scores_below_eps_are_skipped() -> None:
    assert not one_joint(5.0, 5.0, 0.0009).any()
    assert one_joint(5.0, 5.0, 1e-3)[5, 5] == pytest.approx(1e-3, rel=1e-5)
    assert not one_limb((2.0, 5.0), (10.0, 5.0), (0.9, 0.0009)).any()


def test_limb_takes_min_score_and_distance_to_segment() -> None:
    hm = one_limb((2.0, 5.0), (10.0, 5.0), (0.9, 0.4))
    assert hm[5, 6] == pytest.approx(0.4, rel=1e-6)  # on the segment
    assert hm[6, 6] == pytest.approx(gauss(1.0, 0.4), rel=1e-5)  # 1 px beside it
    assert hm[5, 11] == pytest.approx(gauss(1.0, 0.4), rel=1e-5)  # 1 px past b
    assert hm[5, 12] == 0.0  # x window ends at int(10 + 1.8) + 1 = 12


def test_diagonal_limb_uses_the_nearest_point_of_the_segment() -> None:
    # a = (2, 2), b = (10, 6); pixel (6, 5): t = 0.55, nearest point (6.4, 4.2), d² = 0.8.
    for cutoff in (0.0, 1e-6):
        hm = one_limb((2.0, 2.0), (10.0, 6.0), (1.0, 1.0), cutoff=cutoff)
        assert hm[5, 6] == pytest.approx(gauss(0.8), rel=1e-5)
        assert hm[0, 0] == pytest.approx(gauss(8.0), rel=1e-4)  # before a: distance to a
    # Pixel (2, 6): d² = 16 - 3.2 = 12.8, a factor of 1.9e-8, which the default cutoff may drop.
    exact = one_limb((2.0, 2.0), (10.0, 6.0), (1.0, 1.0), cutoff=0.0)
    assert exact[6, 2] == pytest.approx(gauss(12.8), rel=1e-3)
    assert abs(one_limb((2.0, 2.0), (10.0, 6.0), (1.0, 1.0))[6, 2] - exact[6, 2]) <= 1e-6


def test_short_limb_is_drawn_as_joint_a_with_score_a() -> None:
    hm = one_limb((5.0, 5.0), (5.5, 5.3), (0.9, 0.5))  # |ab|² = 0.34 < 1
    np.testing.assert_array_equal(hm, one_joint(5.0, 5.0, 0.9))
    assert not one_limb((5.0, 5.0), (5.5, 5.3), (0.9, 0.0005)).any()  # the min score still gates it


def test_joints_and_limbs_render_together() -> None:
    rng = np.random.default_rng(1)
    keypoints = rng.uniform(0, 31, (3, 2, 17, 2)).astype(np.float32)
    scores = rng.uniform(0, 1, (3, 2, 17)).astype(np.float32)
    volume = render_pose_volume(keypoints, scores, 32, 32)
    assert volume.shape == (3, 34, 32, 32)
    np.testing.assert_array_equal(volume[:, :17], render_heatmaps(keypoints, scores, 32, 32))
    np.testing.assert_array_equal(
        volume[:, 17:], render_heatmaps(keypoints, scores, 32, 32, limbs=COCO17.limbs)
    )


def test_limb_flip_index_matches_pyskl_defaults() -> None:
    perm = channel_flip_index(COCO17.flip_index(), COCO17.limbs)
    left, right = (0, 2, 4, 5, 6, 10, 11, 12), (1, 3, 7, 8, 9, 13, 14, 15)
    expected = list(range(17))
    for lft, rgt in zip(left, right, strict=True):
        expected[lft], expected[rgt] = rgt, lft
    assert perm == expected
    both = channel_flip_index(COCO17.flip_index(), COCO17.limbs, with_joints=True)
    assert both == COCO17.flip_index() + [17 + i for i in expected]


def test_flip_heatmaps_mirrors_columns_and_swaps_channels() -> None:
    rng = np.random.default_rng(2)
    volume = rng.random((2, 34, 8, 10)).astype(np.float32)
    perm = channel_flip_index(COCO17.flip_index(), COCO17.limbs, with_joints=True)
    flipped = flip_heatmaps(volume, perm)
    for c in (0, 1, 2, 18, 34 - 1):
        np.testing.assert_array_equal(flipped[:, c, :, 10 - 1 - 3], volume[:, perm[c], :, 3])  # x → W-1-x
    np.testing.assert_array_equal(flip_heatmaps(flipped, perm), volume)


def test_cutoff_changes_limb_maps_by_at_most_cutoff_times_score() -> None:
    rng = np.random.default_rng(3)
    keypoints = rng.uniform(-3, 40, (4, 3, 17, 2))
    scores = rng.uniform(0, 1, (4, 3, 17))
    full = render_heatmaps(keypoints, scores, 40, 36, limbs=COCO17.limbs, cutoff=0.0)
    for cutoff in (1e-6, 1e-3):
        banded = render_heatmaps(keypoints, scores, 40, 36, limbs=COCO17.limbs, cutoff=cutoff)
        assert np.abs(banded - full).max() <= cutoff + 1e-6


def test_shapes_and_empty_inputs() -> None:
    assert render_heatmaps(np.zeros((2, 0, 17, 2)), np.zeros((2, 0, 17)), 8, 8).shape == (2, 17, 8, 8)
    assert not render_heatmaps(np.zeros((1, 1, 17, 2)), np.zeros((1, 1, 17)), 8, 8).any()
    with pytest.raises(ValueError, match="limb joint indices"):
        render_heatmaps(np.zeros((1, 1, 3, 2)), np.ones((1, 1, 3)), 8, 8, limbs=[(0, 3)])
    nan = np.full((1, 1, 1, 2), np.nan)
    assert not render_heatmaps(nan, np.ones((1, 1, 1)), 8, 8).any()


coordinate = st.one_of(
    st.floats(-6.0, 30.0, width=32),
    st.integers(-6, 30).map(float),  # integer and half-integer centres hit window edges
    st.integers(-12, 60).map(lambda v: v / 2),
)


@st.composite
def pose_inputs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, int]:
    frames, persons = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    num = frames * persons * 17
    xy = draw(st.lists(st.tuples(coordinate, coordinate), min_size=num, max_size=num))
    keypoints = np.array(xy, dtype=np.float32).reshape(frames, persons, 17, 2)
    if draw(st.booleans()):  # many short limbs: move joints next to joint 0
        jitter = draw(st.floats(-0.875, 0.875, width=32))
        keypoints[:, :, 1:] = keypoints[:, :, :1] + np.float32(jitter)
    score = st.one_of(st.floats(0.0, 1.0, width=32), st.sampled_from([0.0, 5e-4, 1e-3, 1.0]))
    scores = np.array(draw(st.lists(score, min_size=num, max_size=num)), dtype=np.float32)
    return keypoints, scores.reshape(frames, persons, 17), draw(st.integers(1, 24)), draw(st.integers(1, 24))


@settings(max_examples=60, deadline=None)
@given(pose_inputs(), st.booleans())
def test_matches_the_pyskl_loop(inputs: tuple[np.ndarray, np.ndarray, int, int], with_limbs: bool) -> None:
    keypoints, scores, height, width = inputs
    limbs = COCO17.limbs if with_limbs else None
    expected = render_loop(keypoints, scores, height, width, limbs=limbs, with_joints=True)
    exact = render_heatmaps(keypoints, scores, height, width, limbs=limbs, with_joints=True, cutoff=0.0)
    fast = render_heatmaps(keypoints, scores, height, width, limbs=limbs, with_joints=True)
    assert np.abs(exact - expected).max() <= 1e-5
    assert np.abs(fast - expected).max() <= 1e-5 + 1e-6


def test_inputs_larger_than_one_pass_of_the_kernel() -> None:
    # Limbs across the whole grid with cutoff 0: several passes of the kernel's pixel buffer.
    rng = np.random.default_rng(3)
    keypoints = rng.uniform(0, 255, (8, 1, 17, 2)).astype(np.float32)
    keypoints[:, :, ::2] = rng.uniform(0, 8, (8, 1, 9, 2))  # even joints near one corner,
    keypoints[:, :, 1::2] = rng.uniform(240, 255, (8, 1, 8, 2))  # odd joints near the other
    scores = np.ones((8, 1, 17), dtype=np.float32)
    # The loop in float64: in float32 its ``d2_start - d2_end`` loses ~1e-5 at 256 px.
    expected = render_loop(
        keypoints.astype(np.float64), scores, 256, 256, limbs=COCO17.limbs, with_joints=True
    )
    exact = render_heatmaps(keypoints, scores, 256, 256, limbs=COCO17.limbs, with_joints=True, cutoff=0.0)
    assert np.abs(exact - expected).max() <= 1e-6


def test_threads_render_independently() -> None:
    rng = np.random.default_rng(4)
    inputs = [
        (rng.uniform(0, 63, (8, 2, 17, 2)).astype(np.float32), rng.random((8, 2, 17)).astype(np.float32))
        for _ in range(6)
    ]
    expected = [render_pose_volume(kp, sc, 64, 64) for kp, sc in inputs]
    with ThreadPoolExecutor(3) as pool:
        for _ in range(5):
            got = list(pool.map(lambda args: render_pose_volume(*args, 64, 64), inputs))
            for a, b in zip(got, expected, strict=True):
                np.testing.assert_array_equal(a, b)


def test_nearly_flat_limb_is_drawn_whole() -> None:
    # A vertical extent of 1e-38 px makes the band's half-width huge (regression: it overflowed
    # int64 in the compiled kernel and the limb vanished).
    for b in ((0.0, 1.1754944e-38), (12.0, 5.0 + 1e-6)):
        a = (1.0, 0.0) if b[0] == 0.0 else (2.0, 5.0)
        size = 1 if b[0] == 0.0 else 16
        keypoints = np.array([a, b], dtype=np.float32).reshape(1, 1, 2, 2)
        scores = np.ones((1, 1, 2), dtype=np.float32)
        expected = render_loop(keypoints, scores, size, size, limbs=[(0, 1)], with_joints=False)
        banded = render_heatmaps(keypoints, scores, size, size, limbs=[(0, 1)])
        assert expected.max() == pytest.approx(1.0)
        assert np.abs(banded - expected).max() <= 1e-5
