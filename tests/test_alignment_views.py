"""The aligner's augmented copies: frames dropped with exact correspondence, flip, affine, dropout."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from posebeam.schemas.layouts import COCO17
from posebeam.transforms.alignment_views import (
    LIMB_CHAINS,
    AlignmentAugmentation,
    augmented_copy,
    limbs_scaled,
    track_centre_and_size,
)

NONE = AlignmentAugmentation(
    min_crop=1,
    speed=(1, 1),
    max_frame_drop=0,
    flip=0,
    rotation_deg=0,
    scale=(1, 1),
    shift=0,
    joint_drop=0,
    noise=0,
    limb_scale=0,
    aspect=0,
)


def _track(frames: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(100, 200, (frames, 17, 2)) + np.arange(frames)[:, None, None]
    return keypoints.astype(np.float32), np.full((frames, 17), 0.8, np.float32)


def test_without_augmentation_the_copy_is_the_track() -> None:
    keypoints, scores = _track()
    copy = augmented_copy(keypoints, scores, np.random.default_rng(1), NONE)
    np.testing.assert_allclose(copy.keypoints, keypoints, atol=1e-4)
    assert (copy.scores == scores).all() and copy.match.tolist() == list(range(40))


def test_dropped_frames_keep_an_exact_correspondence() -> None:
    keypoints, scores = _track()
    augmentation = replace(NONE, max_frame_drop=0.5)
    for seed in range(5):
        copy = augmented_copy(keypoints, scores, np.random.default_rng(seed), augmentation)
        assert 20 <= len(copy.match) <= 40 and (np.diff(copy.match) > 0).all()
        np.testing.assert_allclose(copy.keypoints, keypoints[copy.match], atol=1e-4)


def test_a_crop_at_another_speed_interpolates_and_matches_the_nearest_frame() -> None:
    keypoints, scores = _track(60)
    keypoints = np.repeat(np.arange(60, dtype=np.float32)[:, None, None], 17, axis=1).repeat(2, axis=2)
    for seed, speed in [(0, (0.5, 0.5)), (1, (1.5, 1.5)), (2, (2 / 3, 1.5))]:
        augmentation = replace(NONE, min_crop=0.5, speed=speed)
        copy = augmented_copy(keypoints, scores, np.random.default_rng(seed), augmentation)
        times = copy.keypoints[:, 0, 0]  # each frame's x is its (interpolated) frame time
        assert (np.diff(times) > 0).all() and (np.abs(copy.match - times) <= 0.5 + 1e-4).all()
        if speed[0] == speed[1]:
            np.testing.assert_allclose(np.diff(times), speed[0], atol=1e-4)
        crop = times[-1] - times[0] + 1
        assert 0.5 * 60 - speed[1] - 1 <= crop <= 60


def test_a_varying_speed_changes_pace_along_the_copy_within_its_bounds() -> None:
    keypoints = np.repeat(np.arange(80, dtype=np.float32)[:, None, None], 17, axis=1).repeat(2, axis=2)
    scores = np.full((80, 17), 0.8, np.float32)
    augmentation = replace(NONE, speed=(0.5, 2.0), speed_knots=3)
    paces = []
    for seed in range(20):
        copy = augmented_copy(keypoints, scores, np.random.default_rng(seed), augmentation)
        times = copy.keypoints[:, 0, 0]
        assert times[0] == 0 and times[-1] >= 79 - 2.0 - 1e-4
        assert (np.abs(copy.match - times) <= 0.5 + 1e-4).all()
        steps = np.diff(times)
        assert (steps >= 0.5 - 1e-3).all() and (steps <= 2.0 + 1e-3).all()
        paces.append(steps[-5:].mean() / steps[:5].mean())
    assert max(paces) > 1.5 and min(paces) < 1 / 1.5  # some copies speed up, some slow down


def test_flip_mirrors_about_the_centre_and_swaps_left_and_right() -> None:
    keypoints, scores = _track(5)
    flip = replace(NONE, flip=1.0)
    copy = augmented_copy(keypoints, scores, np.random.default_rng(0), flip)
    centre, _ = track_centre_and_size(keypoints, scores)
    mirrored = keypoints[:, COCO17.flip_index()].copy()
    mirrored[..., 0] = 2 * centre[0] - mirrored[..., 0]
    np.testing.assert_allclose(copy.keypoints, mirrored, atol=1e-3)


def test_the_affine_part_is_a_similarity_and_dropout_and_noise_act_on_present_joints() -> None:
    keypoints, scores = _track(200)
    affine = replace(NONE, rotation_deg=15, scale=(0.9, 1.1), shift=0.1)
    copy = augmented_copy(keypoints, scores, np.random.default_rng(3), affine)
    before = np.linalg.norm(keypoints[:, 0] - keypoints[:, 5], axis=-1)
    after = np.linalg.norm(copy.keypoints[:, 0] - copy.keypoints[:, 5], axis=-1)
    ratio = after / before
    assert np.allclose(ratio, ratio[0], rtol=1e-3) and 0.9 <= ratio[0] <= 1.1
    dropped = augmented_copy(
        keypoints, scores, np.random.default_rng(4), replace(NONE, joint_drop=0.1, noise=0.02)
    )
    share = (dropped.scores == 0).mean()
    assert 0.08 < share < 0.12 and (dropped.keypoints[dropped.scores == 0] == 0).all()


def test_a_track_of_one_or_two_frames_keeps_them() -> None:
    keypoints, scores = _track(2)
    for seed in range(5):
        copy = augmented_copy(keypoints, scores, np.random.default_rng(seed), AlignmentAugmentation())
        assert copy.match.tolist() == [0, 1]
    varying = replace(AlignmentAugmentation(), speed_knots=3)
    for frames, expected in [(1, [0]), (2, [0, 1])]:
        copy = augmented_copy(*_track(frames), np.random.default_rng(0), varying)
        assert copy.match.tolist() == expected


def test_limbs_scale_segment_by_segment_from_the_body_out() -> None:
    xy = np.zeros((1, 17, 2))
    xy[0, [5, 7, 9]] = [[0, 0], [0, 10], [0, 20]]  # left arm: shoulder, elbow, wrist
    xy[0, [12, 14, 16]] = [[5, 0], [5, -10], [5, -20]]  # right leg: hip, knee, ankle
    scores = np.ones((1, 17))
    scaled = limbs_scaled(xy, scores, np.array([[2.0, 0.5], [1.5, 1.0]]))
    np.testing.assert_allclose(scaled[0, [5, 7, 9]], [[0, 0], [0, 20], [0, 25]])
    np.testing.assert_allclose(scaled[0, [12, 14, 16]], [[5, 0], [5, -15], [5, -25]])
    scores[0, 7] = 0  # a missing elbow: the wrist stays where it was
    np.testing.assert_allclose(limbs_scaled(xy, scores, np.array([[2.0, 0.5], [1, 1]]))[0, 9], [0, 20])


def test_body_and_aspect_change_proportions_not_the_correspondence() -> None:
    keypoints, scores = _track()
    copy = augmented_copy(
        keypoints, scores, np.random.default_rng(3), replace(NONE, limb_scale=0.3, aspect=0.4)
    )
    assert copy.match.tolist() == list(range(40)) and (copy.scores == scores).all()
    unchanged = [j for j in range(17) if j not in {joint for chain in LIMB_CHAINS for joint in chain[1:]}]
    centre = np.median(keypoints.reshape(-1, 2), axis=0)
    ratio = (copy.keypoints[:, unchanged, 0] - centre[0]) / (keypoints[:, unchanged, 0] - centre[0])
    assert np.allclose(ratio, ratio.flat[0], atol=1e-3) and not np.isclose(ratio.flat[0], 1.0)  # x only
    np.testing.assert_allclose(copy.keypoints[:, unchanged, 1], keypoints[:, unchanged, 1], atol=1e-3)
    assert not np.allclose(copy.keypoints[:, 9], keypoints[:, 9], atol=1.0)  # a wrist moved
