"""``posebeam train segmenter`` and ``posebeam evaluate segmenter`` end to end on a tiny mocap set,
the segmenter's Beam handler in a ``TestPipeline``, and the commands' usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
import torch
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from conftest import BEAM_TEST_OPTIONS, assert_one_line_usage_error

from posebeam.models.checkpoints import save_checkpoint, verify_checkpoint
from posebeam.models.segment_track import load_segmenter, segment_track
from posebeam.pipeline.cli import main
from posebeam.pipeline.segment import SegmentConfig, SegmenterHandler, Track
from posebeam.training.datasets import load_frame_sequences

SCORES = ("accuracy", "edit", "f1@10", "f1@25", "f1@50")


@pytest.fixture(scope="module")
def trained(tiny_segmenter: tuple[Path, Path]) -> tuple[Path, Path]:
    """(tables, weights) of the session's tiny segmenter (conftest)."""
    return tiny_segmenter


def test_training_writes_a_verified_card_with_both_models_held_out_scores(
    trained: tuple[Path, Path],
) -> None:
    data, weights = trained
    card = verify_checkpoint(weights)
    _, classes = load_frame_sequences(str(data), str(data))
    assert card["architecture"] == "heatmap_mstcn" and card["classes"] == classes and "stand" in classes
    assert card["background"] == [] and card["layout"] == "coco17"
    assert card["clip"]["heatmap_size"] == 16 and card["clip"]["feature_dim"] == 32
    assert card["clip"]["num_channels"] == 34 and card["clip"]["tcn_window"] == 64
    assert card["parameters"]["total"] == sum(card["parameters"][k] for k in ("encoder", "frame_head", "tcn"))
    training = card["training"]
    assert training["epochs_frames"] == 1 and training["lr"] == 5e-4 and training["minutes"] >= 0
    assert set(training["step_minutes"]) == {"frames", "features", "tcn", "evaluation"}
    held_out = card["metrics"]["held_out"]
    for scores in (held_out, held_out["per_frame_baseline"]):
        assert all(0 <= scores[name] <= 100 for name in SCORES)
    assert held_out["tracks"] >= 1 and held_out["frames"] >= 100
    assert 0 < held_out["majority_class_accuracy"] < 100
    calibration = card["calibration"]
    assert 0.05 <= calibration["temperature"] <= 20 and calibration["data"] == str(data)
    assert calibration["validation_frames"] > 0 and 0 <= calibration["ece_calibrated"] <= 1


def test_evaluate_json_prints_one_object_with_the_five_scores(
    trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data, weights = trained
    capsys.readouterr()
    assert main(["evaluate", "segmenter", str(weights), str(data), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert all(0 <= scores[name] <= 100 for name in SCORES)
    assert set(SCORES) <= set(scores["per_frame_baseline"])
    sequences, _ = load_frame_sequences(str(data), str(data))
    assert scores["tracks"] == len(sequences) and scores["frames"] == sum(len(s.labels) for s in sequences)
    assert main(["evaluate", "segmenter", str(weights), str(data), "--chunk-frames", "5"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("posebeam: model: accuracy") and f"accuracy {scores['accuracy']:.1f}" in line


def test_the_beam_handler_segments_each_track_as_segment_track_does(trained: tuple[Path, Path]) -> None:
    data, weights = trained
    sequences, _ = load_frame_sequences(str(data), str(data))
    tracks = {f"track{i}": Track(s.keypoints, s.scores) for i, s in enumerate(sequences[:3])}
    model, spec, _ = load_segmenter(weights)
    expected = [
        (key, segment_track(model, t.keypoints, t.scores, spec)[0].tolist()) for key, t in tracks.items()
    ]
    handler = SegmenterHandler(SegmentConfig(str(weights), chunk_frames=50, batch_size=2))
    with TestPipeline(options=PipelineOptions(BEAM_TEST_OPTIONS)) as p:
        labels = (
            p
            | beam.Create(list(tracks.items()))
            | RunInference(KeyedModelHandler(handler))
            | beam.Map(lambda item: (item[0], item[1].inference.labels.tolist()))
        )
        assert_that(labels, equal_to(expected))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "segmenter", "NOWHERE", "OUT"], "TABLES NOWHERE does not exist"),
        (["train", "segmenter", "DATA", "OUT", "--heatmap-size", "8"], "heatmap size must be at least 16"),
        (["train", "segmenter", "DATA", "OUT", "--box-window", "4"], "box window must be an odd number"),
        (["train", "segmenter", "DATA", "OUT", "--epochs-tcn", "0"], "must be positive, got 0"),
        (["train", "segmenter", "DATA", "OUT", "--test-fraction", "1"], "must be between 0 and 1"),
        (["train", "segmenter", "DATA", "OUT", "--clip-len", "8"], "unrecognized arguments: --clip-len"),
        (
            ["train", "segmenter", "DATA", "OUT", "--test-data", "NOWHERE"],
            "--test-data NOWHERE does not exist",
        ),
        (["evaluate", "segmenter", "CLASSIFIER", "DATA"], "holds a classifier (pose_x3d), not a segmenter"),
        (["evaluate", "segmenter", "PICKLE", "DATA"], "is a pickle-based checkpoint"),
        (["evaluate", "segmenter", "CLASSIFIER", "NOWHERE"], "TABLES NOWHERE does not exist"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "data").mkdir()
    classifier = tmp_path / "pose_x3d.safetensors"
    save_checkpoint({"w": torch.zeros(1)}, classifier, {"architecture": "pose_x3d", "classes": ["a"]})
    (tmp_path / "model.pt").write_bytes(b"\x80\x04junk")
    paths = {"NOWHERE": str(tmp_path / "none"), "OUT": str(tmp_path / "out"), "DATA": str(tmp_path / "data"),
             "CLASSIFIER": str(classifier), "PICKLE": str(tmp_path / "model.pt")}  # fmt: skip
    argv = [paths.get(a, a) for a in args]
    assert_one_line_usage_error(argv, message.replace("NOWHERE", paths["NOWHERE"]), capsys)
    assert not (tmp_path / "out").exists()


def test_segment_track_labels_are_class_indices_with_their_probabilities(trained: tuple[Path, Path]) -> None:
    data, weights = trained
    sequences, classes = load_frame_sequences(str(data), str(data))
    model, spec, card = load_segmenter(weights)
    labels, scores = segment_track(model, sequences[0].keypoints, sequences[0].scores, spec)
    assert labels.dtype == np.int64 and labels.min() >= 0 and labels.max() < len(card["classes"])
    assert len(labels) == len(sequences[0].labels) and ((scores > 1 / len(classes)) & (scores <= 1)).all()
