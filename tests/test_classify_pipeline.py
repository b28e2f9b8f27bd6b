"""``ClassifyClips`` (RunInference) and ``posebeam run`` with a tiny classifier trained here."""

from __future__ import annotations

import json
from pathlib import Path

import apache_beam as beam
import numpy as np
import pandas as pd
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from conftest import BEAM_TEST_OPTIONS, keypoint_frame

from posebeam.models.checkpoints import card_path
from posebeam.models.classifier import SHIPPED_CLASSIFIER
from posebeam.models.segment_track import SHIPPED_SEGMENTER
from posebeam.pipeline.classify import ClassifyClips, ClassifyConfig, PoseClassifierHandler, clip_windows
from posebeam.pipeline.cli import main
from posebeam.schemas.records import keypoints_table
from posebeam.schemas.tables import CLIP_PREDICTIONS


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    assert main(["synth", str(root / "data"), "--videos", "16", "--seed", "4", "--kind", "clips"]) == 0
    args = ["--architecture", "pose_x3d", "--epochs", "1", "--batch-size", "4", "--eval-clips", "1"]
    args += ["--clip-len", "8", "--train-size", "32", "--test-size", "32"]
    assert main(["train", "classifier", str(root / "data"), str(root / "model"), *args]) == 0
    return root / "model" / "pose_x3d.safetensors"


def _table(frames: int, fps: float, persons: int = 1) -> object:
    rng = np.random.default_rng(0)
    rows = [(f, p) for f in range(frames) for p in range(persons)]
    n = len(rows)
    return keypoints_table(
        "v1",
        frame_index=np.array([f for f, _ in rows]),
        timestamp_s=np.array([f / fps for f, _ in rows]),
        person_id=np.array([p for _, p in rows]),
        bbox=np.tile([10.0, 10.0, 60.0, 120.0], (n, 1)),
        bbox_score=np.ones(n),
        keypoints=np.concatenate([rng.uniform(10, 100, (n, 17, 2)), np.full((n, 17, 1), 0.8)], axis=2),
        width=640,
        height=480,
    )


def test_clip_windows_slide_over_each_person_by_time() -> None:
    config = ClassifyConfig(weights="unused", window_s=2.0, stride_s=1.0, min_frames=8)
    clips = list(clip_windows(_table(frames=50, fps=10.0, persons=2), config))  # 5 s per person
    keys = [key for key, _ in clips]
    assert [k[:4] for k in keys if k[1] == 0] == [("v1", 0, 0, 20), ("v1", 0, 10, 30), ("v1", 0, 20, 40),
                                                  ("v1", 0, 30, 50)]  # fmt: skip
    assert len(keys) == 8
    clip, uri = clips[0][1]
    assert clip.keypoints.shape == (20, 17, 2) and clip.scores.shape == (20, 17) and uri is None
    assert list(clip_windows(_table(frames=5, fps=10.0), config)) == [], "too few frames for a clip"


def test_classify_clips_writes_one_ranked_row_per_clip(tiny_classifier: Path) -> None:
    config = ClassifyConfig(weights=str(tiny_classifier), window_s=2.0, stride_s=1.0, min_frames=8)
    with TestPipeline(options=PipelineOptions(BEAM_TEST_OPTIONS)) as p:
        outputs = p | beam.Create([_table(frames=30, fps=10.0, persons=2)]) | ClassifyClips(config)
        rows = outputs["clip_predictions"]
        assert_that(outputs["failures"], equal_to([]), label="NoFailures")

        def check(rows: list[dict[str, object]]) -> None:
            assert sorted((r["person_id"], r["start_frame"], r["end_frame"]) for r in rows) == [
                (0, 0, 20), (0, 10, 30), (1, 0, 20), (1, 10, 30)]  # fmt: skip
            for row in rows:
                assert set(row) == set(CLIP_PREDICTIONS.names)
                scores = row["top5_scores"]
                assert row["label"] == row["top5_labels"][0] and row["score"] == scores[0]
                assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0 + 1e-6
                assert str(row["model"]).startswith("pose_x3d@")

        assert_that(rows, check, label="Rows")


def test_posebeam_run_writes_clip_predictions(
    tiny_classifier: Path, video_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    argv = ["run", str(video_folder), str(out), "--backend", "shapes", "--classifier", str(tiny_classifier)]
    assert (
        main([*argv, "--clip-window-s", "1.0", "--clip-stride-s", "0.5", "--", "--runner=FnApiRunner"]) == 0
    )
    predictions = pd.read_parquet(out / "clip_predictions")
    videos = pd.read_parquet(out / "videos")
    assert set(predictions.video_id) <= set(videos.video_id) and len(predictions) >= 4
    assert (predictions.end_frame > predictions.start_frame).all()
    assert (
        main(["run", str(video_folder), str(tmp_path / "o2"), "--classifier", "/no/model.safetensors"]) == 2
    )


def test_a_model_stage_error_becomes_one_failure_row_per_video(
    tiny_classifier: Path, video_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(PoseClassifierHandler, "run_inference", broken)
    out = tmp_path / "out"
    argv = ["run", str(video_folder), str(out), "--backend", "shapes", "--classifier", str(tiny_classifier)]
    assert main([*argv, "--clip-window-s", "1.0", "--", "--runner=FnApiRunner"]) == 0, "the job goes on"
    videos = pd.read_parquet(out / "videos")
    failures = pd.read_parquet(out / "failures")
    assert len(videos) == 2 and pd.read_parquet(out / "clip_predictions").empty
    assert sorted(failures.uri) == sorted(videos.uri) and (failures.stage == "classify").all()
    assert failures.error_type.eq("RuntimeError").all()
    assert failures.message.str.match(r"\d+ clips of this video could not be classified: CUDA error").all()


def test_posebeam_run_on_rendered_synthetic_videos_with_the_default_models(tmp_path: Path) -> None:
    data = tmp_path / "synth"
    assert main(["synth", str(data), "--videos", "4", "--seed", "2", "--kind", "sequences", "--render"]) == 0
    out = tmp_path / "out"
    assert main(["run", str(data / "videos_rgb"), str(out)]) == 0  # MoveNet, shipped classifier and segmenter
    videos = pd.read_parquet(out / "videos")
    predictions = pd.read_parquet(out / "clip_predictions")
    assert len(videos) == 4 and (videos.frames_decoded == 450).all()
    assert len(predictions) > 0 and predictions.model.str.startswith("pose_slowonly@").all()
    shipped_classes = json.loads(card_path(SHIPPED_CLASSIFIER).read_text())["classes"]
    assert set(predictions.label) <= set(shipped_classes)
    labels, segments = pd.read_parquet(out / "frame_labels"), pd.read_parquet(out / "segments")
    tracks = keypoint_frame(out).groupby(["video_id", "person_id"]).size()
    assert len(labels) == tracks[tracks >= 8].sum() > 0  # every row of the tracks of 8 rows or more
    assert labels.model.str.startswith("heatmap_mstcn@").all() and len(segments) >= 4
    segmenter_classes = json.loads(card_path(SHIPPED_SEGMENTER).read_text())["classes"]
    assert set(labels.label) | set(segments.label) <= set(segmenter_classes)
