"""How mocap people look to the pipeline: MoveNet's detector behaviour and the held-out captures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_usage_error, keypoint_frame

from posebeam.pipeline.cli import main
from posebeam.synth.mocap import HELD_OUT_SOURCES, MOCAP_CLASSES, SEGMENT_FPS, class_sources, read_source
from posebeam.synth.noise import (
    MOVENET_CONFIDENCE,
    NoiseConfig,
    correlated_noise,
    detect_movenet,
    guess_hidden,
)
from posebeam.synth.scene import SceneConfig


def _walker(num_frames: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(num_frames)[:, None]
    points = np.stack([100 + 0.5 * t + np.arange(17), 200 + 0 * t + 3 * np.arange(17)], -1).astype(float)
    return points, np.full(num_frames, 120.0)


def test_movenet_confidences_follow_the_measured_joint_levels() -> None:
    points, height = _walker(200)
    rng = np.random.default_rng(0)
    people = [detect_movenet(points, height, 15.0, rng, NoiseConfig()) for _ in range(60)]
    xy, conf = np.concatenate([p[0] for p in people]), np.concatenate([p[1] for p in people])
    points, height = np.concatenate([points] * 60), np.concatenate([height] * 60)
    means = conf.mean(axis=0)
    assert np.abs(means - MOVENET_CONFIDENCE).max() < 0.03
    assert means[[9, 10]].max() < means[[11, 12]].min(), "wrists are less sure than hips"
    assert np.quantile(conf, 0.1) > 0.2 and np.quantile(conf, 0.9) < 0.85
    error = np.linalg.norm(xy - points, axis=-1) / height[:, None]
    assert 0.005 < np.median(error) < 0.05
    assert np.median(error[:, 9]) > np.median(error[:, 0]), "wrists jitter more than the nose"


def test_movenet_jitter_is_correlated_in_time_and_vanishes_for_a_perfect_detector() -> None:
    points, height = _walker()
    xy, _ = detect_movenet(points, height, 15.0, np.random.default_rng(1), NoiseConfig().scaled(0))
    np.testing.assert_allclose(xy, points)
    noise = correlated_noise((20000, 2), 0.5, np.random.default_rng(2))
    assert np.std(noise) == pytest.approx(1.0, abs=0.03)
    assert np.corrcoef(noise[1:, 0], noise[:-1, 0])[0, 1] == pytest.approx(0.5, abs=0.03)


def test_hidden_joints_are_low_confidence_guesses_not_gaps() -> None:
    points, height = _walker(50)
    conf = np.full((50, 17), 0.6)
    hidden = np.zeros((50, 17), dtype=bool)
    hidden[10:20, 9] = True
    xy, out = guess_hidden(points, conf, hidden, height, np.random.default_rng(3))
    assert ((out[hidden] >= 0.05) & (out[hidden] <= 0.25)).all() and (out[~hidden] == 0.6).all()
    assert (xy[~hidden] == points[~hidden]).all() and (xy[hidden] != points[hidden]).all()


def test_train_and_test_splits_share_no_capture_where_a_class_has_several() -> None:
    for label, sources in MOCAP_CLASSES.items():
        train, test = class_sources(label, "train"), class_sources(label, "test")
        assert set(class_sources(label, "all")) == set(sources)
        if len(sources) > 1:
            assert train and test and not set(train) & set(test), label
            assert set(test) <= HELD_OUT_SOURCES
        else:
            assert train == test == sources, label
    assert {s for ss in MOCAP_CLASSES.values() for s in ss} >= HELD_OUT_SOURCES


def test_a_split_needs_mocap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="split"):
        SceneConfig(split="test")
    argv = ["synth", str(tmp_path / "x"), "--split", "test"]
    assert_one_line_usage_error(argv, "--split test needs --motion mocap", capsys)


def test_test_split_walkers_perform_only_held_out_walks(tmp_path: Path) -> None:
    """Same seed, other split: different captures, so the keypoints differ."""
    tables = {}
    for split in ("train", "test"):
        out = tmp_path / split
        argv = [
            "synth",
            str(out),
            "--videos",
            "3",
            "--motion",
            "mocap",
            "--actions",
            "walk",
            "--split",
            split,
        ]
        assert main(argv) == 0
        tables[split] = np.stack(keypoint_frame(out).keypoints.to_numpy())
    assert tables["train"].shape != tables["test"].shape or not np.allclose(tables["train"], tables["test"])


def _span(source: str) -> tuple[str, float, float]:
    capture, _, span = source.partition("@")
    start, end = span.split("-")
    return capture, float(start), float(end)


def test_capture_segments_are_what_their_class_says_and_split_by_time() -> None:
    segments = {label: [s for s in sources if "@" in s] for label, sources in MOCAP_CLASSES.items()}
    assert segments["walk"] and segments["jump"] and segments["punch"] and segments["get_up"]
    for label, names in segments.items():
        for name in names:
            motion = read_source(name)
            _, start, end = _span(name)
            assert motion.fps == SEGMENT_FPS and not motion.loop
            assert abs(motion.num_frames - (end - start) * SEGMENT_FPS) <= 1, name
            hips = motion.joints[:, 11:13].mean(axis=1)
            ankles = motion.joints[:, 15:17, 1]
            if label == "walk":
                speed = np.linalg.norm(hips[-1, [0, 2]] - hips[0, [0, 2]]) / (end - start)
                assert 0.5 < speed < 1.8, f"{name} walks at {speed:.2f} m/s"
            if label == "jump":
                assert ((ankles - ankles.min(axis=0)) > 0.15).all(axis=1).any(), f"{name}: no flight"
            if label == "get_up":
                assert hips[0, 1] < 0.3 < 0.8 < hips[-1, 1], name
    # No time range of a capture on both sides of the split.
    for label in MOCAP_CLASSES:
        train = [_span(s) for s in class_sources(label, "train") if "@" in s]
        for capture, start, end in (_span(s) for s in class_sources(label, "test") if "@" in s):
            assert all(c != capture or e <= start or end <= s for c, s, e in train), label
    with pytest.raises(ValueError, match="not inside"):
        read_source("cmu/01_01@20.0-99.0")
