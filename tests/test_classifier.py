"""Clip volumes, training and evaluation of a classifier on a tiny synthetic set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from posebeam.models.checkpoints import UnsafeCheckpoint
from posebeam.models.classifier import load_classifier
from posebeam.pipeline.cli import main
from posebeam.transforms.clip_inputs import ClipSpec, eval_views, train_volume

SPEC = ClipSpec(clip_len=8, train_size=32, test_size=40)


def _walking_person(frames: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    base = np.array([[50.0 + 4 * (j % 5), 40.0 + 8 * j] for j in range(17)])
    walk = np.arange(frames)[:, None, None] * [2.0, 0.0]
    keypoints = base[None] + walk + rng.normal(0, 0.5, (frames, 17, 2))
    scores = np.full((frames, 17), 0.9)
    scores[:, 3] = 0.0  # one joint never seen
    return keypoints, scores


def test_train_volume_shape_and_missing_joint_stays_empty() -> None:
    keypoints, scores = _walking_person()
    volume = train_volume(keypoints, scores, SPEC, np.random.default_rng(1))
    assert volume.shape == (17, 8, 32, 32) and volume.dtype == np.float32
    assert volume[3].max() == 0.0 and volume[0].max() == pytest.approx(0.9, abs=0.05)


def test_eval_views_are_deterministic_and_include_mirrors() -> None:
    keypoints, scores = _walking_person()
    views = eval_views(keypoints, scores, SPEC, num_clips=3)
    assert views.shape == (6, 17, 8, 40, 40)
    np.testing.assert_array_equal(views, eval_views(keypoints, scores, SPEC, num_clips=3))
    # The mirror of view 0 is view 1: left and right joints swapped, x reversed.
    np.testing.assert_allclose(views[1][1], views[0][2][..., ::-1])


def test_train_then_evaluate_a_small_classifier(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, out = tmp_path / "synth", tmp_path / "model"
    assert main(["synth", str(data), "--videos", "24", "--seed", "3", "--kind", "clips"]) == 0
    args = ["--architecture", "pose_x3d", "--epochs", "1", "--batch-size", "4", "--eval-clips", "2"]
    args += ["--clip-len", "8", "--train-size", "32", "--test-size", "32"]
    assert main(["train", "classifier", str(data), str(out), *args]) == 0
    weights = out / "pose_x3d.safetensors"
    model, card = load_classifier(weights)
    assert card["clip"] == {**SPEC.to_card(), "test_size": 32}
    assert ClipSpec.from_card(card["clip"]) == ClipSpec(clip_len=8, train_size=32, test_size=32)
    assert len(card["classes"]) == model.head.fc_cls.out_features
    training = card["training"]  # the registry's PYSKL defaults: lr 0.4 per 256 clips, scaled to the batch
    assert training["lr"] == pytest.approx(0.4 * 4 / 256) and training["weight_decay"] == 3e-4
    held_out = card["metrics"]["held_out"]
    assert 0.0 <= held_out["top1"] <= held_out["top5"] <= 1.0
    assert (out / "confusion.png").stat().st_size > 1000
    capsys.readouterr()
    assert main(["evaluate", "classifier", str(weights), str(data), "--clips", "1"]) == 0
    evaluated = json.loads(capsys.readouterr().out.removeprefix("posebeam: "))
    calibration = card["metrics"]["calibration"]
    assert card["calibration"]["temperature"] > 0 and 0 <= calibration["ece_calibrated"] <= 1
    seen = card["training"]["train_clips"] + calibration["validation_clips"] + held_out["num_clips"]
    assert evaluated["num_clips"] == seen
    assert set(held_out["per_class_accuracy"]) <= set(card["classes"])
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    with pytest.raises(UnsafeCheckpoint):
        load_classifier(weights)
