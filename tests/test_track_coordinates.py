"""Box-normalised joint coordinates (the coordinate baseline's input) and a smoke run of
``benchmarks/segmenter_dropout.py`` on a tiny mocap set."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from posebeam.models.checkpoints import verify_checkpoint
from posebeam.pipeline.cli import main as posebeam
from posebeam.schemas.layouts import COCO17
from posebeam.training.datasets import FrameSequence
from posebeam.transforms.frame_heatmaps import SegmenterSpec
from posebeam.transforms.track_coordinates import box_coordinates, track_coordinates

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import segmenter_dropout

K = COCO17.num_joints


def one_frame(*joints: tuple[int, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """A 1-frame track with the given ``(joint, x, y, score)``; every other joint missing."""
    keypoints, scores = np.zeros((1, K, 2), np.float32), np.zeros((1, K), np.float32)
    for k, x, y, score in joints:
        keypoints[0, k], scores[0, k] = (x, y), score
    return keypoints, scores


def test_joints_are_centred_on_the_box_and_divided_by_its_side() -> None:
    keypoints, scores = one_frame((0, 50.0, 30.0, 0.8), (5, 10.0, 60.0, 1.0))
    values = box_coordinates(keypoints, scores, np.array([[10.0, 20.0, 40.0]])).reshape(K, 3)
    np.testing.assert_allclose(values[0], [0.5, -0.25, 0.8], atol=1e-6)  # centre (30, 40)
    np.testing.assert_allclose(values[5], [-0.5, 0.5, 1.0], atol=1e-6)
    assert values.dtype == np.float32 and box_coordinates(keypoints, scores, np.ones((1, 3))).shape == (1, 51)


def test_track_coordinates_use_the_heatmaps_padded_box() -> None:
    # Extent (0, 0)–(8, 4): centre (4, 2), side max(8, 4) → PoseCompact's 10 px floor → × 1.25 = 12.5.
    keypoints, scores = one_frame((0, 0.0, 0.0, 1.0), (16, 8.0, 4.0, 0.5))
    values = track_coordinates(keypoints, scores).reshape(K, 3)
    np.testing.assert_allclose(values[0], [-0.32, -0.16, 1.0], atol=1e-6)
    np.testing.assert_allclose(values[16], [0.32, 0.16, 0.5], atol=1e-6)


def test_missing_joints_read_zeros() -> None:
    keypoints, scores = one_frame((0, 50.0, 30.0, 0.8), (1, 70.0, 90.0, 0.0), (2, 80.0, 90.0, 1e-4))
    keypoints[0, 3], scores[0, 3] = (np.nan, 5.0), 1.0
    values = box_coordinates(keypoints, scores, np.array([[10.0, 20.0, 40.0]])).reshape(K, 3)
    assert np.all(values[1:] == 0) and np.all(np.isfinite(values))
    empty = track_coordinates(np.zeros((4, K, 2)), np.zeros((4, K)))
    assert empty.shape == (4, 51) and not empty.any()


def test_mirroring_negates_u_and_swaps_left_and_right() -> None:
    keypoints, scores = one_frame((1, 40.0, 30.0, 0.9), (0, 30.0, 40.0, 1.0))  # left eye, nose
    box = np.array([[10.0, 20.0, 40.0]])
    values = box_coordinates(keypoints, scores, box, flip_index=COCO17.flip_index()).reshape(K, 3)
    np.testing.assert_allclose(values[2], [-0.25, -0.25, 0.9], atol=1e-6)  # now the right eye
    np.testing.assert_allclose(values[0], [0.0, 0.0, 1.0], atol=1e-6)
    assert not values[1].any()


def test_output_is_invariant_to_translating_and_scaling_the_track() -> None:
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(100, 300, (30, K, 2)) + np.linspace(0, 200, 30)[:, None, None]
    scores = rng.uniform(0.2, 1.0, (30, K)) * (rng.random((30, K)) > 0.2)
    spec = SegmenterSpec(box_window=5)
    expected = track_coordinates(keypoints, scores, spec)
    for scale, shift in ((2.0, (-50.0, 30.0)), (0.5, (1000.0, -7.0))):
        moved = track_coordinates(keypoints * scale + np.array(shift), scores, spec)
        np.testing.assert_allclose(moved, expected, atol=1e-5)


def test_test_time_dropout_takes_the_exact_fraction_and_nests() -> None:
    rng = np.random.default_rng(1)
    scores = (rng.random((20, K)) > 0.3).astype(np.float32)
    sequence = FrameSequence("v", 0, 0, rng.uniform(0, 99, (20, K, 2)), scores, np.zeros(20, np.int64))
    keys = rng.random(scores.shape)
    dropped = {r: segmenter_dropout.drop_fraction(sequence, keys, r) for r in (0.0, 0.1, 0.5)}
    present = int((scores > 0).sum())
    for rate, s in dropped.items():
        assert int((s.scores > 0).sum()) == present - round(rate * present)
        assert np.all(s.keypoints[(s.scores == 0) & (scores > 0)] == 0) and np.all(s.scores <= scores)
    assert np.all(dropped[0.5].scores <= dropped[0.1].scores)  # the 10 % mask is inside the 50 % one
    assert np.array_equal(dropped[0.0].scores, scores)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(train, test, weights): 4 + 2 mocap sequence videos of 10 s with the same three actions,
    and a 16-px segmenter trained 1 + 1 epochs with ``--test-data``."""
    root = tmp_path_factory.mktemp("dropout")
    synth = [
        "synth",
        "--motion",
        "mocap",
        "--kind",
        "sequences",
        "--duration",
        "10",
        "--actions",
        "walk,kick,jump",
    ]
    for name, videos, seed in (("train", "4", "1"), ("test", "2", "2")):
        assert posebeam([synth[0], str(root / name), *synth[1:], "--videos", videos, "--split", name,
                         "--seed", seed]) == 0  # fmt: skip
    tiny_flags = ["--epochs-frames", "1", "--epochs-tcn", "1", "--heatmap-size", "16", "--feature-dim", "32",
                  "--frame-batch-size", "32", "--tcn-window", "64"]  # fmt: skip
    train = [
        "train",
        "segmenter",
        str(root / "train"),
        str(root / "model"),
        "--test-data",
        str(root / "test"),
    ]
    assert posebeam([*train, *tiny_flags]) == 0
    return root / "train", root / "test", root / "model" / "heatmap_mstcn.safetensors"


def test_the_benchmark_prints_every_rate_for_both_models(
    tiny: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    train, test, weights = tiny
    capsys.readouterr()
    segmenter_dropout.main([str(train), str(test), "--weights", str(weights), "--epochs-tcn", "1", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["dropped_percent"] == ["0", "10", "30", "50"] and result["epochs_tcn"] == 1
    for model in ("heatmaps", "coordinates"):
        assert set(result[model]) == {"0", "10", "30", "50"}
        for scores in result[model].values():
            assert all(0 <= scores[name] <= 100 for name in ("accuracy", "edit", "f1@50"))
    held_out = verify_checkpoint(weights)["metrics"]["held_out"]  # scored as evaluate scores
    assert {k: result["heatmaps"]["0"][k] for k in ("accuracy", "edit", "f1@50")} == {
        k: held_out[k] for k in ("accuracy", "edit", "f1@50")
    }
    assert result["test"] == {"tracks": held_out["tracks"], "frames": held_out["frames"]}


def test_hip_torso_coordinates_centre_on_the_hips_and_scale_by_the_torso() -> None:
    from posebeam.transforms.track_coordinates import hip_torso_coordinates

    keypoints = np.zeros((3, 17, 2), np.float32)
    keypoints[:, 11], keypoints[:, 12] = (90, 200), (110, 200)  # hips: mid-point (100, 200)
    keypoints[:, 5], keypoints[:, 6] = (90, 150), (110, 150)  # shoulders 50 px above
    keypoints[:, 0] = (100, 125)  # nose
    keypoints[1] += 40.0  # the person moves: coordinates do not
    scores = np.full((3, 17), 0.9, np.float32)
    scores[2, [11, 12]] = 0.0  # no hips in frame 2: the hip mid-point of frame 1
    scores[:, 16] = 0.0
    values = hip_torso_coordinates(keypoints, scores).reshape(3, 17, 3)
    assert values[0, 0].tolist() == pytest.approx([0.0, -1.5, 0.9])
    assert values[1, 0].tolist() == pytest.approx([0.0, -1.5, 0.9])
    assert values[2, 0].tolist() == pytest.approx([-0.8, -2.3, 0.9])  # (100 - 140) / 50, (125 - 240) / 50
    assert (values[:, 16] == 0).all() and (values[2, 11] == 0).all()
