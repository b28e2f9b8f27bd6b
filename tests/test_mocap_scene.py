"""``posebeam synth --motion mocap``: people driven by motion capture, filmed by virtual cameras."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from conftest import keypoint_frame

from posebeam.pipeline.cli import main
from posebeam.synth.mocap import MOCAP_CLASSES, MOTION_DATA, read_deepmimic
from posebeam.synth.mocap_scene import perform_class, retimed, synthesise_mocap
from posebeam.synth.scene import SceneConfig


def test_every_class_performs_a_person_of_human_size() -> None:
    rng = np.random.default_rng(0)
    for label in MOCAP_CLASSES:
        joints = perform_class(label, 45, 15.0, rng)
        assert joints.shape == (45, 17, 3) and np.isfinite(joints).all(), label
        spine = np.linalg.norm(joints[:, 5:7].mean(axis=1) - joints[:, 11:13].mean(axis=1), axis=-1)
        assert 0.3 < np.median(spine) < 0.7, label


def test_a_looping_walk_carries_its_root_motion_on() -> None:
    """Six seconds of a 1.3 s walking cycle: the walker keeps going instead of jumping back."""
    walk = read_deepmimic(MOTION_DATA / "deepmimic" / "humanoid3d_walk.txt.gz")
    joints = retimed(walk, 90, 15.0, speed=1.0, start=0.0)
    hips = joints[:, 11:13].mean(axis=1)
    steps = np.linalg.norm(np.diff(hips[:, [0, 2]], axis=0), axis=-1)
    assert np.linalg.norm(hips[-1, [0, 2]] - hips[0, [0, 2]]) > 5.0
    assert steps.max() < 3 * np.median(steps), "no jump at a cycle's end"


def test_standing_people_sway_but_stay() -> None:
    joints = perform_class("stand", 60, 15.0, np.random.default_rng(1))
    hips = joints[:, 11:13].mean(axis=1)
    assert np.ptp(hips[:, 0]) < 0.05 and np.ptp(joints[:, 0, 0]) > 0.005


def test_videos_are_deterministic_and_labelled(tmp_path: Path) -> None:
    config = SceneConfig(kind="clips", duration_s=3.0, width=320, height=240, max_persons=3, motion="mocap",
                         actions=tuple(MOCAP_CLASSES))  # fmt: skip
    a, b = synthesise_mocap(4, 2, config), synthesise_mocap(4, 2, config)
    for p, q in zip(a.persons, b.persons, strict=True):
        np.testing.assert_array_equal(p.keypoints, q.keypoints)
    out = tmp_path / "data"
    argv = ["synth", str(out), "--videos", "20", "--seed", "3", "--motion", "mocap", "--persons", "2"]
    assert main(argv) == 0
    keypoints = keypoint_frame(out)
    labels = pd.read_parquet(out / "clip_labels")
    assert set(labels.label) <= set(MOCAP_CLASSES) and labels.label.nunique() >= 6
    labelled = set(zip(labels.video_id, labels.person_id, strict=True))
    assert labelled <= set(zip(keypoints.video_id, keypoints.person_id, strict=True))
    joints = np.stack(keypoints.keypoints.to_numpy()).reshape(-1, 17, 3)
    assert (joints[..., 2] > 0).mean() > 0.5, "most joints are seen"
