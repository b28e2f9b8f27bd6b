"""``SegmentActions``: tracks resampled to the segmenter's frame rate, ``frame_labels`` and
``segments`` rows (golden values), the composite in a ``TestPipeline``, and ``posebeam run``'s
``--segmenter`` option."""

from __future__ import annotations

import itertools
from pathlib import Path

import apache_beam as beam
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from conftest import BEAM_TEST_OPTIONS, assert_one_line_usage_error, keypoint_frame

from posebeam.models.segment_track import SHIPPED_SEGMENTER, load_segmenter, segment_track
from posebeam.pipeline.cli import main
from posebeam.pipeline.segment import (
    FrameLabels,
    SegmentActions,
    SegmentConfig,
    TrackKey,
    frame_label_rows,
    person_tracks,
    segment_rows,
)
from posebeam.storage.parquet_tables import read_table
from posebeam.transforms.track_resampling import resample_track


def _rows(seconds: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(seconds)
    keypoints = np.arange(n, dtype=np.float32)[:, None, None] * np.ones((n, 17, 2), np.float32)
    return np.asarray(seconds), keypoints, np.full((n, 17), 0.5, np.float32)


def test_rows_at_10_fps_resampled_to_15_take_the_nearest_row() -> None:
    track = resample_track(*_rows([0.0, 0.1, 0.2, 0.3, 0.4, 0.5]), fps=15.0)
    # grid 0, 1/15, …, 8/15 s; each point takes the row nearest in time (all within 0.05 s)
    assert track.keypoints[:, 0, 0].tolist() == [0, 1, 1, 2, 3, 3, 4, 5, 5]
    assert (track.scores == 0.5).all()
    assert track.grid_index.tolist() == [0, 2, 3, 5, 6, 8]  # nearest grid point, halves up


def test_a_gap_in_a_track_becomes_frames_without_the_person() -> None:
    frames = [*range(10), *range(30, 40)]  # 30 fps rows, lost for frames 10-29
    track = resample_track(*_rows([f / 30 for f in frames]), fps=15.0)
    assert len(track.scores) == 21  # 0 … 20/15 s: the last row, 39/30 s, is half a grid step before
    assert track.grid_index[-4:].tolist() == [18, 19, 19, 20]
    missing = np.flatnonzero(track.scores[:, 0] == 0).tolist()
    assert missing == list(range(6, 15))  # frames 12-28; 10 and 30 are within half a frame of a row
    assert track.keypoints[5, 0, 0] == 9 and track.keypoints[15, 0, 0] == 10  # rows 9 and 10 (frame 30)


def test_a_single_row_is_a_one_frame_track_and_unsorted_rows_are_refused() -> None:
    track = resample_track(*_rows([3.0]), fps=15.0)
    assert track.scores.shape == (1, 17) and track.grid_index.tolist() == [0]
    with pytest.raises(ValueError, match="sorted"):
        resample_track(*_rows([0.2, 0.1]), fps=15.0)


def test_frame_labels_and_segments_tile_the_track_with_exclusive_ends() -> None:
    frames = np.arange(10, 16)
    key = TrackKey("v1", 3, frames, frames / 10.0, np.arange(6))
    result = FrameLabels(np.array([0, 0, 1, 1, 1, 0]), np.array([0.9, 0.7, 0.6, 0.8, 1.0, 0.5], np.float32))
    labels = frame_label_rows(key, result, ["walk", "run"], "m@1")
    assert [(r["frame_index"], r["label"]) for r in labels] == [
        (10, "walk"), (11, "walk"), (12, "run"), (13, "run"), (14, "run"), (15, "walk")
    ]  # fmt: skip
    assert labels[0] == {"video_id": "v1", "person_id": 3, "frame_index": 10, "label": "walk",
                         "score": pytest.approx(0.9), "model": "m@1"}  # fmt: skip
    segments = segment_rows(key, result, ["walk", "run"], "m@1")
    spans = [(s["label"], s["start_frame"], s["end_frame"]) for s in segments]
    assert spans == [("walk", 10, 12), ("run", 12, 15), ("walk", 15, 16)]
    times = [t for s in segments for t in (s["start_s"], s["end_s"])]
    assert times == pytest.approx([1.0, 1.2, 1.2, 1.5, 1.5, 1.6])
    assert [s["score"] for s in segments] == pytest.approx([0.8, 0.8, 0.5])


def test_rows_skipping_frames_label_every_row_and_segments_end_where_the_next_starts() -> None:
    frames = np.array([0, 2, 4, 6])  # --fps 15 on a 30 fps video
    key = TrackKey("v1", 0, frames, frames / 30.0, np.arange(4))
    result = FrameLabels(np.array([1, 1, 0, 0]), np.ones(4, np.float32))
    segments = segment_rows(key, result, ["walk", "run"], "m")
    assert [(s["start_frame"], s["end_frame"]) for s in segments] == [(0, 4), (4, 7)]
    assert segments[1]["end_s"] == pytest.approx(7 / 30)  # one frame of the video after the last row


def _video_tables(data: Path) -> list[object]:
    table = read_table(str(data), "keypoints")
    return [table.filter(pc.equal(table.column("video_id"), v)) for v in pc.unique(table.column("video_id"))]


def test_segment_actions_labels_every_row_of_each_track_as_segment_track_does(
    tiny_segmenter: tuple[Path, Path],
) -> None:
    data, weights = tiny_segmenter
    tables = _video_tables(data)[:3]
    model, spec, card = load_segmenter(weights)
    expected_labels, expected_tiles = [], []
    for table in tables:
        for key, track in person_tracks(table, spec.fps, min_rows=8):
            labels, _ = segment_track(model, track.keypoints, track.scores, spec)
            names = [card["classes"][i] for i in labels[key.grid_index]]
            rows = zip(key.frame_index.tolist(), names, strict=True)
            expected_labels += [(key.video_id, key.person_id, frame, name) for frame, name in rows]
            first, last = int(key.frame_index[0]), int(key.frame_index[-1])
            expected_tiles.append((key.video_id, key.person_id, first, last + 1))
    assert len(expected_labels) > 300
    with TestPipeline(options=PipelineOptions(BEAM_TEST_OPTIONS)) as p:
        out = (
            p
            | beam.Create(tables)
            | SegmentActions(SegmentConfig(str(weights), chunk_frames=40, batch_size=2))
        )
        labels = out["frame_labels"] | "Key" >> beam.Map(
            lambda r: (r["video_id"], r["person_id"], r["frame_index"], r["label"])
        )
        assert_that(labels, equal_to(expected_labels), label="frame labels")
        tiles = (
            out["segments"]
            | "ByTrack"
            >> beam.Map(lambda s: ((s["video_id"], s["person_id"]), (s["start_frame"], s["end_frame"])))
            | beam.GroupByKey()
            | "Tile" >> beam.MapTuple(lambda track, spans: (*track, *_tiled(sorted(spans))))
        )
        assert_that(tiles, equal_to(expected_tiles), label="segments tile each track")
        assert_that(out["failures"], equal_to([]), label="no failures")


def _tiled(spans: list[tuple[int, int]]) -> tuple[int, int]:
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans)), spans
    return spans[0][0], spans[-1][1]


def test_posebeam_run_writes_frame_labels_and_segments(
    tiny_segmenter: tuple[Path, Path], video_folder: Path, tmp_path: Path
) -> None:
    _, weights = tiny_segmenter
    out = tmp_path / "out"
    argv = ["run", str(video_folder), str(out), "--backend", "shapes", "--classifier", "none"]
    assert main([*argv, "--segmenter", str(weights), "--", "--runner=FnApiRunner"]) == 0
    keypoints, labels = keypoint_frame(out), pd.read_parquet(out / "frame_labels")
    segments = pd.read_parquet(out / "segments")
    tracks = keypoints.groupby(["video_id", "person_id"]).size()
    segmented = tracks[tracks >= 8]
    assert len(segmented) > 0 and len(labels) == segmented.sum()
    assert set(map(tuple, segments[["video_id", "person_id"]].values)) == set(segmented.index)
    assert (segments.end_frame > segments.start_frame).all() and (segments.end_s > segments.start_s).all()
    assert labels.model.str.startswith("heatmap_mstcn@").all() and not (out / "clip_predictions").exists()
    assert labels.score.between(0, 1).all() and segments.score.between(0, 1).all()


def test_missing_or_wrong_segmenter_weights_are_one_line_errors_before_the_job_starts(
    tmp_path: Path, video_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "o")
    assert_one_line_usage_error(
        ["run", str(video_folder), out, "--segmenter", str(tmp_path / "none.safetensors")],
        "segmenter weights", capsys,
    )  # fmt: skip
    classifier = str(Path(SHIPPED_SEGMENTER).with_name("pose_slowonly_mocap.safetensors"))
    assert_one_line_usage_error(
        ["run", str(video_folder), out, "--segmenter", classifier], "not a segmenter", capsys
    )
    assert not Path(out).exists()


def test_the_temperature_softens_the_scores_but_keeps_the_labels(tiny_segmenter: tuple[Path, Path]) -> None:
    data, weights = tiny_segmenter
    model, spec, card = load_segmenter(weights)
    table = _video_tables(data)[0]
    _, track = next(person_tracks(table, spec.fps, min_rows=8))
    labels, scores = segment_track(model, track.keypoints, track.scores, spec)
    soft_labels, soft_scores = segment_track(model, track.keypoints, track.scores, spec, temperature=3.0)
    assert np.array_equal(labels, soft_labels) and (soft_scores <= scores + 1e-6).all()
    assert (soft_scores < scores).any() and (soft_scores >= 1 / len(card["classes"]) - 1e-6).all()


def test_the_shipped_segmenters_labels_hardly_depend_on_the_window_size(tmp_path: Path) -> None:
    """A 2-minute track (four 30 s test sequences end to end) in windows of 512 frames (the default),
    1024, or in one pass: the labels agree on at least 90 % of the frames (docs/method.md §6)."""
    from dataclasses import replace

    from posebeam.training.datasets import load_frame_sequences

    data = tmp_path / "data"
    argv = ["synth", str(data), "--motion", "mocap", "--kind", "sequences", "--videos", "4"]
    assert main([*argv, "--split", "test", "--seed", "7"]) == 0
    model, spec, card = load_segmenter(SHIPPED_SEGMENTER)
    sequences, _ = load_frame_sequences(str(data), str(data), classes=card["classes"])
    keypoints = np.concatenate([s.keypoints for s in sequences])
    scores = np.concatenate([s.scores for s in sequences])
    assert len(keypoints) >= 1800 and spec.tcn_window == 512
    labels = {
        w: segment_track(model, keypoints, scores, replace(spec, tcn_window=w))[0] for w in (512, 1024, 4096)
    }
    assert (labels[512] == labels[1024]).mean() >= 0.9
    assert (labels[512] == labels[4096]).mean() >= 0.9
