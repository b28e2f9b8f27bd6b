"""The motion model: kinematic tree, action table, interpolation, timelines and realism knobs."""

from __future__ import annotations

import numpy as np
import pytest

from posebeam.schemas.records import keep_inside_frame
from posebeam.synth.actions import ACTIONS, KEY_POSES, action_pose, key_matrix, periodic_pchip
from posebeam.synth.body import (
    ANGLE_PARAMS,
    PARAMS,
    BodyShape,
    P,
    forward_kinematics,
    inverse_kinematics,
    mirror_params,
    neutral_params,
)
from posebeam.synth.noise import NoiseConfig, detect, missed_frames, random_camera
from posebeam.synth.scene import SceneConfig, keypoint_columns, synthesise
from posebeam.synth.timeline import perform, plan, sample_style


def test_neutral_pose_has_human_proportions() -> None:
    joints = forward_kinematics(neutral_params())
    assert joints[0, 1] == pytest.approx(0.94)  # nose at 94 % of the height
    assert joints[15, 1] == joints[16, 1] == pytest.approx(BodyShape().ankle_height)
    assert joints[5, 0] == -joints[6, 0] > 0  # the left shoulder is on the image's right
    assert np.linalg.norm(joints[5] - joints[6]) == pytest.approx(0.204)


def test_inverse_kinematics_recovers_the_parameters() -> None:
    rng = np.random.default_rng(0)
    params = np.tile(neutral_params(), (20, 1))
    for name in PARAMS:
        if name in ANGLE_PARAMS:
            params[:, P[name]] = rng.uniform(-60, 60, 20)
        elif name.endswith("scale"):
            params[:, P[name]] = rng.uniform(0.3, 1.0, 20)
    joints = forward_kinematics(params)
    recovered = inverse_kinematics(joints, np.ones((20, 17), dtype=bool))
    np.testing.assert_allclose(forward_kinematics(recovered), joints, atol=1e-9)
    np.testing.assert_allclose(recovered[:, : P["lift"]], params[:, : P["lift"]], atol=1e-6)


def test_mirror_swaps_sides_in_the_image() -> None:
    params = KEY_POSES["wave_in"].params()
    joints, mirrored = forward_kinematics(params), forward_kinematics(mirror_params(params))
    np.testing.assert_allclose(mirrored[[9, 10]] * [-1, 1], joints[[10, 9]], atol=1e-9)


def test_feet_stay_on_the_floor_unless_lifted() -> None:
    for name in ("squat", "kick", "walk_in_place"):
        joints = forward_kinematics(action_pose(name, np.linspace(0, 1, 40)))
        lowest = np.minimum(joints[:, 15, 1], joints[:, 16, 1])
        np.testing.assert_allclose(lowest, BodyShape().ankle_height, atol=1e-9)
    jack = forward_kinematics(action_pose("jumping_jack", np.array([0.0, 0.25])))
    assert jack[1, 15, 1] - jack[0, 15, 1] == pytest.approx(0.06, abs=0.01)


def test_interpolation_passes_through_keys_without_overshoot() -> None:
    times, values = key_matrix("squat")
    np.testing.assert_allclose(periodic_pchip(times, values, times[:-1]), values[:-1], atol=1e-9)
    u = np.linspace(0, 1, 400, endpoint=False)
    dense = periodic_pchip(times, values, u)
    assert np.all(dense >= values.min(axis=0) - 1e-9) and np.all(dense <= values.max(axis=0) + 1e-9)
    held = (u > 0.41) & (u < 0.54)  # squat holds the bottom between 0.40 and 0.55
    np.testing.assert_allclose(dense[held], np.broadcast_to(values[1], dense[held].shape), atol=1e-9)


def _one_repetition(name: str) -> np.ndarray:
    return forward_kinematics(action_pose(name, np.linspace(0, 1, 61)))


def test_every_action_moves_and_the_classes_differ() -> None:
    travel = {
        name: np.linalg.norm(np.diff(_one_repetition(name), axis=0), axis=-1).sum(axis=0) for name in ACTIONS
    }
    for name, path in travel.items():
        assert path.max() > 0.2, name  # some joint travels at least 20 % of the body height
    # Phase-free motion signature: how far each joint travels along x and y in a repetition.
    names = list(ACTIONS)
    ranges = np.stack([np.ptp(_one_repetition(name), axis=0).ravel() for name in names])
    distance = np.linalg.norm(ranges[:, None] - ranges[None], axis=-1)
    np.fill_diagonal(distance, np.inf)
    closest = np.unravel_index(distance.argmin(), distance.shape)
    assert distance.min() > 0.08, [names[i] for i in closest]
    wave, two = travel["wave"], travel["two_hand_wave"]
    assert wave[10] > 0.2 and wave[9] < 1e-6 and two[9] > 0.2  # one hand versus both


def test_style_and_noise_are_reproducible_from_the_generator() -> None:
    def run(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        style = sample_style(rng)
        perf = perform(plan("sequences", 10, list(ACTIONS), style, rng), 150, 15, style, rng)
        truth = forward_kinematics(perf.params) * 100
        return np.concatenate([a.ravel() for a in detect(truth, np.full(150, 100.0), rng, NoiseConfig())])

    assert np.array_equal(run(1), run(1))
    assert not np.array_equal(run(1), run(2))


def test_zero_noise_is_a_perfect_detector_and_a_still_camera() -> None:
    config = SceneConfig(noise=NoiseConfig().scaled(0), max_persons=2)
    video = synthesise(0, 0, config)
    for person in video.persons:
        assert person.detected.all()
        assert np.all(person.keypoints[..., 2] > 0.75)
        np.testing.assert_allclose(person.keypoints[..., :2], person.truth, atol=1e-9)
    camera = random_camera(30, 15, 192, 144, np.random.default_rng(0), config.noise)
    assert np.all(camera.scale == 1) and np.all(camera.roll_deg == 0) and np.all(camera.shift == 0)


def test_missing_joints_are_zero_with_zero_confidence() -> None:
    noise = NoiseConfig(joint_drop_p=0.3, occlusion_p=1.0)
    video = synthesise(2, 0, SceneConfig(noise=noise))
    kp = keypoint_columns(video)["keypoints"]
    missing = kp[..., 2] == 0
    assert 0.25 < missing.mean() < 0.6
    assert np.all(kp[missing][:, :2] == 0)


def test_missed_frames_come_in_short_runs() -> None:
    missed = missed_frames(2000, np.random.default_rng(0), NoiseConfig(frame_drop_p=0.02, frame_drop_max=4))
    edges = np.flatnonzero(np.diff(np.r_[0, missed.astype(int), 0]))
    lengths = edges[1::2] - edges[::2]
    assert 0.02 < missed.mean() < 0.12 and lengths.max() <= 8


def test_joints_outside_the_frame_are_clamped_and_missing() -> None:
    xy = np.array([[[-5.0, 10.0], [50.0, 50.0], [120.0, 99.5]]])
    inside = keep_inside_frame(np.concatenate([xy, np.ones((1, 3, 1))], -1), 100, 100)
    clamped, conf = inside[..., :2], inside[..., 2]
    assert clamped.tolist() == [[[0.0, 10.0], [50.0, 50.0], [99.0, 99.0]]]
    assert conf.tolist() == [[0.0, 1.0, 0.0]]
