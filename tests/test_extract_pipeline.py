"""The ``DecodeAndEstimatePoses`` composite on a TestPipeline, with the ``shapes`` backend."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from conftest import BEAM_TEST_OPTIONS
from synth_video import write_broken_inputs, write_video

from posebeam.pipeline.extract import FAILURES_TAG, VIDEOS_TAG, DecodeAndEstimatePoses
from posebeam.pipeline.pose_stage import ExtractConfig


def test_every_input_ends_in_videos_or_failures(tmp_path: Path) -> None:
    valid = write_video(tmp_path / "walk.mp4", frames=24, num_boxes=2)
    write_video(tmp_path / "walk3.mkv", codec="mjpeg", frames=12, num_boxes=3)
    expected_failures = write_broken_inputs(tmp_path, valid)
    config = ExtractConfig(backend="shapes", batch_size=5)
    with TestPipeline(options=beam.options.pipeline_options.PipelineOptions(BEAM_TEST_OPTIONS)) as p:
        outputs = (
            p | fileio.MatchFiles(str(tmp_path / "*")) | fileio.ReadMatches() | DecodeAndEstimatePoses(config)
        )
        videos = outputs[VIDEOS_TAG] | "VideoSummary" >> beam.Map(
            lambda r: (Path(r["uri"]).name, r["frames_decoded"], r["persons_found"], r["person_frames"])
        )
        assert_that(videos, equal_to([("walk.mp4", 24, 2, 48), ("walk3.mkv", 12, 3, 36)]), label="videos")
        failures = outputs[FAILURES_TAG] | "FailureSummary" >> beam.Map(
            lambda r: (Path(r["uri"]).name, r["stage"])
        )
        assert_that(failures, equal_to(list(expected_failures.items())), label="failures")
        rows = outputs["keypoints"] | "CountRows" >> beam.Map(lambda t: t.num_rows)
        assert_that(rows, equal_to([48, 36]), label="keypoint_rows")


def test_fps_subsamples_and_tracks_keep_ids(tmp_path: Path) -> None:
    write_video(tmp_path / "walk.mp4", frames=24, fps=12, num_boxes=2)
    config = ExtractConfig(backend="shapes", fps=4.0)
    with TestPipeline(options=beam.options.pipeline_options.PipelineOptions(BEAM_TEST_OPTIONS)) as p:
        outputs = (
            p
            | fileio.MatchFiles(str(tmp_path / "*.mp4"))
            | fileio.ReadMatches()
            | DecodeAndEstimatePoses(config)
        )
        summary = outputs["keypoints"] | beam.Map(
            lambda t: (
                sorted(set(t.column("frame_index").to_pylist())),
                sorted(set(t.column("person_id").to_pylist())),
            )
        )
        assert_that(summary, equal_to([([0, 3, 6, 9, 12, 15, 18, 21], [0, 1])]))
