"""MatchInputs: INPUT is matched inside the job, each input once, and the job graph does not grow
with the number of inputs."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from conftest import BEAM_TEST_OPTIONS

from posebeam.pipeline.inputs import REJECTED, MatchInputs, check_inputs
from posebeam.pipeline.pose_stage import ExtractConfig
from posebeam.pipeline.run import build
from posebeam.pipeline.usage import UsageError


def test_a_list_is_read_and_matched_in_the_job_each_file_once(tmp_path: Path) -> None:
    for name in ("a.mp4", "b.mkv", "c.mp4"):
        (tmp_path / name).write_bytes(b"x")
    listing = tmp_path / "inputs.txt"
    listing.write_text(
        f"\ufeff# archive\r\n{tmp_path / 'a.mp4'}\r\n{tmp_path}/./a.mp4\n{tmp_path}/*.mkv\n\n"
        f"{tmp_path / 'gone.mp4'}\n{tmp_path}/*.webm\n"
    )
    with TestPipeline(options=PipelineOptions(BEAM_TEST_OPTIONS)) as p:
        matched = p | MatchInputs(str(listing))
        assert_that(
            matched.files | beam.Map(lambda m: Path(m.path).name), equal_to(["a.mp4", "b.mkv"]), label="files"
        )
        assert_that(
            matched[REJECTED],
            equal_to(
                [
                    (str(tmp_path / "gone.mp4"), "listed on line 6 of inputs.txt, but there is no such file"),
                    (f"{tmp_path}/*.webm", "listed on line 7 of inputs.txt, but the pattern matches no file"),
                ]
            ),
            label="rejected",
        )


def _graph_bytes(input_arg: str, output: Path) -> int:
    p = beam.Pipeline(options=PipelineOptions(BEAM_TEST_OPTIONS))
    build(p, input_arg, str(output), ExtractConfig(backend="shapes"), "run")
    return len(p.to_runner_api().SerializeToString())


def test_the_job_graph_holds_input_not_what_it_names(tmp_path: Path) -> None:
    sizes = {}
    for count in (2, 500):
        folder = tmp_path / f"v{count:03d}"
        folder.mkdir()
        lines = []
        for i in range(count):
            (folder / f"{i:04d}.mp4").write_bytes(b"x")
            lines.append(str(folder / f"{i:04d}.mp4"))
        (folder / "all.txt").write_text("\n".join(lines) + "\n")
        sizes[count] = (
            _graph_bytes(str(folder), tmp_path / "out"),
            _graph_bytes(str(folder / "all.txt"), tmp_path / "out"),
        )
    for few, many in zip(sizes[2], sizes[500], strict=True):
        assert abs(many - few) < 1_000  # listing them on the launcher added 6.8 kB for 498 more files


def test_the_launcher_only_checks_that_input_names_something(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("not a video")
    with pytest.raises(UsageError, match="no input videos match"):
        check_inputs(str(tmp_path))
    with pytest.raises(UsageError, match="no input videos match"):
        check_inputs(str(tmp_path / "*.mp4"))
    (tmp_path / "list.txt").write_text("# nothing\n\n")
    with pytest.raises(UsageError, match="names no files"):
        check_inputs(str(tmp_path / "list.txt"))
    (tmp_path / "list.txt").write_text(f"{tmp_path}/missing.mp4\n")
    check_inputs(str(tmp_path / "list.txt"))  # the job reports the line in failures
    (tmp_path / "clip.mp4").write_bytes(b"x")
    check_inputs(str(tmp_path))
    check_inputs(str(tmp_path / "*.mp4"))
