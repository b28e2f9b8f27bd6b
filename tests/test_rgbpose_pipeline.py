"""RGBPose-Conv3D in ``ClassifyClips``: RGB frames re-decoded in the model stage, streams fused 1:1.

A randomly initialised ``rgbpose_conv3d`` at a small input (8 RGB frames at 64², 32 heatmap frames
at 16²) is saved with its model card; the ``shapes`` backend finds two "persons" per video.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineResult
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from conftest import BEAM_TEST_OPTIONS, RGBPOSE_CLASSES, keypoint_frame
from scipy.special import softmax
from synth_video import write_video
from torch import Tensor, nn

from posebeam.pipeline.classify import (
    ClassifyClips,
    ClipInput,
    ClipSkipped,
    RGBPoseClassifierHandler,
    clip_windows,
)
from posebeam.pipeline.clips import ClassifyConfig, PersonClip
from posebeam.pipeline.extract import METRICS_NAMESPACE
from posebeam.pipeline.run import launch
from posebeam.schemas.tables import KEYPOINT_ROWS

WINDOW = {"window_s": 1.0, "stride_s": 0.5}


def _counters(result: PipelineResult) -> dict[str, int]:
    query = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    return {c.key.metric.name: int(c.committed or c.attempted or 0) for c in query["counters"]}


@pytest.fixture(scope="module")
def rgbpose_run(
    rgbpose_weights: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, int]]:
    """``posebeam run``'s job on two videos (2 s, 2 boxes; 1 s, 3 boxes) with the RGBPose model."""
    root = tmp_path_factory.mktemp("run")
    (root / "videos").mkdir()
    write_video(root / "videos" / "walk.mp4", codec="mpeg4", frames=24)
    write_video(root / "videos" / "walk3.mkv", codec="mjpeg", frames=12, num_boxes=3)
    argv = ["--input", str(root / "videos"), "--output", str(root / "out"), "--backend", "shapes"]
    argv += ["--classifier", str(rgbpose_weights), "--clip_window_s", "1.0", "--clip_stride_s", "0.5"]
    return root, _counters(launch([*argv, *BEAM_TEST_OPTIONS]))


def _keypoint_tables(out: Path) -> list[pa.Table]:
    keypoints = keypoint_frame(out)
    return [
        pa.Table.from_pandas(group.reset_index(drop=True), schema=KEYPOINT_ROWS, preserve_index=False)
        for _, group in keypoints.groupby("video_id")
    ]


def _clip_keys(tables: list[pa.Table]) -> set[tuple[Any, ...]]:
    config = ClassifyConfig(weights="unused", **WINDOW)
    return {key[:4] for table in tables for key, _ in clip_windows(table, config)}


def test_run_writes_fused_rgbpose_predictions(rgbpose_run: tuple[Path, dict[str, int]]) -> None:
    root, counters = rgbpose_run
    predictions = pd.read_parquet(root / "out" / "clip_predictions")
    videos = pd.read_parquet(root / "out" / "videos")
    expected = _clip_keys(_keypoint_tables(root / "out"))
    assert len(videos) == 2 and len(expected) == 9  # 2 persons × 3 clips + 3 persons × 1 clip
    got = {(r.video_id, r.person_id, r.start_frame, r.end_frame) for r in predictions.itertuples()}
    assert got == expected and len(predictions) == len(expected)
    assert predictions.model.str.fullmatch(r"rgbpose_conv3d@[0-9a-f]{12}").all()
    for row in predictions.itertuples():
        scores = list(row.top5_scores)
        assert all(0.0 <= s <= 1.0 for s in scores) and scores == sorted(scores, reverse=True)
        assert (
            row.label == row.top5_labels[0]
            and row.score == scores[0]
            and set(row.top5_labels) <= set(RGBPOSE_CLASSES)
        )
    assert counters["rgb_frames_read"] == 8 * len(predictions), "8 distinct frames re-read per clip"
    assert counters["rgb_frames_decoded"] >= counters["rgb_frames_read"]
    assert counters.get("rgb_clips_skipped", 0) == 0


def test_clips_of_a_video_deleted_after_extraction_are_skipped(
    rgbpose_run: tuple[Path, dict[str, int]], rgbpose_weights: Path, tmp_path: Path
) -> None:
    root, _ = rgbpose_run
    tables = _keypoint_tables(root / "out")
    videos = pd.read_parquet(root / "out" / "videos")
    kept, deleted = videos.iloc[0], videos.iloc[1]
    gone = tmp_path / Path(deleted.uri).name  # the video was moved or deleted after extraction
    rows = [{"video_id": kept.video_id, "uri": kept.uri}, {"video_id": deleted.video_id, "uri": str(gone)}]
    keys = _clip_keys(tables)
    kept_keys = {k for k in keys if k[0] == kept.video_id}
    deleted_keys = keys - kept_keys
    assert kept_keys and deleted_keys
    config = ClassifyConfig(weights=str(rgbpose_weights), **WINDOW)
    p = TestPipeline(options=PipelineOptions(BEAM_TEST_OPTIONS))
    videos_table = p | "Videos" >> beam.Create(rows)
    outputs = p | "Keypoints" >> beam.Create(tables) | ClassifyClips(config, videos=videos_table)
    predictions = outputs["clip_predictions"]
    failures = outputs["failures"] | beam.Map(lambda r: (r["uri"], r["stage"], r["message"].split(":")[0]))
    count = len(deleted_keys)
    expected = (str(gone), "classify", f"{count} clips of this video could not be classified")
    assert_that(failures, equal_to([expected]), label="OneFailureRow")
    got = predictions | beam.Map(lambda r: (r["video_id"], r["person_id"], r["start_frame"], r["end_frame"]))
    assert_that(got, equal_to(sorted(kept_keys)), label="KeptClips")
    result = p.run()
    result.wait_until_finish()
    assert _counters(result)["rgb_clips_skipped"] == len(deleted_keys)


class _FixedLogits(nn.Module):
    """Returns seeded logits, one row per view, and records the input shapes."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []
        self.logits: tuple[Tensor, Tensor] | None = None

    def forward(self, rgb: Tensor, pose: Tensor) -> tuple[Tensor, Tensor]:
        self.shapes = [tuple(rgb.shape), tuple(pose.shape)]
        generator = torch.Generator().manual_seed(1)
        self.logits = (
            torch.randn(len(rgb), len(RGBPOSE_CLASSES), generator=generator) * 3,
            torch.randn(len(rgb), len(RGBPOSE_CLASSES), generator=generator) * 3,
        )
        return self.logits


def test_handler_fuses_the_clip_averaged_softmax_of_each_stream_1_to_1(
    rgbpose_weights: Path, tmp_path: Path
) -> None:
    video = write_video(tmp_path / "walk.mp4", frames=24)
    keypoints = np.tile(np.linspace([10.0, 10.0], [60.0, 100.0], 17), (12, 1, 1)).astype(np.float32)
    clip = PersonClip(keypoints, np.ones((12, 17), np.float32), np.arange(4, 16))
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video" * 100)
    unreadable = [ClipInput(clip, str(tmp_path / "gone.mp4")), ClipInput(clip, str(garbage))]
    batch = [ClipInput(clip, str(video)), *unreadable, ClipInput(clip, str(video))]
    handler = RGBPoseClassifierHandler(ClassifyConfig(weights=str(rgbpose_weights), num_clips=2))
    handler.load_model()
    model = _FixedLogits()
    results = list(handler.run_inference(batch, model))
    assert model.shapes == [(4, 3, 8, 64, 64), (4, 17, 32, 16, 16)], "2 readable clips × 2 test clips"
    assert model.logits is not None
    rgb, pose = (softmax(logits.numpy(), axis=1) for logits in model.logits)
    assert [r.example for r in results] == batch, "one result per example, in order"
    skipped = [results[1].inference, results[2].inference]
    assert all(isinstance(s, ClipSkipped) and "cannot be re-read" in s.reason for s in skipped)
    for result, views in zip((results[0], results[3]), (slice(0, 2), slice(2, 4)), strict=True):
        expected = (rgb[views].mean(axis=0) + pose[views].mean(axis=0)) / 2
        np.testing.assert_allclose(result.inference, expected, rtol=1e-5)
        assert result.inference.sum() == pytest.approx(1.0, abs=1e-5)
