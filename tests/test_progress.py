"""Progress of local runs: every input is accounted for once in the events, the totals read only
complete lines, and the bar shows done/total, failures and frames per second on a terminal only."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from conftest import BEAM_TEST_OPTIONS
from synth_video import write_broken_inputs, write_video

from posebeam.pipeline import progress
from posebeam.pipeline.inputs import count_inputs
from posebeam.pipeline.pose_stage import ExtractConfig
from posebeam.pipeline.progress import ProgressBar, ProgressTotals, record_event
from posebeam.pipeline.run import build


def _window(video: str, window: int, windows: int, failed: int = 0, uris: int = 1) -> dict[str, object]:
    return {
        "video": video,
        "window": window,
        "windows": windows,
        "uris": uris,
        "failed": failed,
        "frames": 10,
    }


def test_totals_read_complete_lines_only_and_only_once(tmp_path: Path) -> None:
    record_event(str(tmp_path), inputs=1, failed=1)
    record_event(str(tmp_path), frames=40)
    (tmp_path / "other.jsonl").write_text(json.dumps({"inputs": 1}) + "\n" + '{"frames": 1')  # half a line
    totals = ProgressTotals(str(tmp_path))
    totals.update()
    assert (totals.inputs, totals.failed, totals.frames) == (2, 1, 40)
    with (tmp_path / "other.jsonl").open("a") as handle:
        handle.write("2}\n")
    totals.update()
    assert (totals.inputs, totals.failed, totals.frames) == (2, 1, 52)
    record_event(None, inputs=1)  # no folder: nothing recorded, nothing raised


def test_a_video_advances_window_by_window_and_fails_once(tmp_path: Path) -> None:
    events = [_window("a", 0, 4), _window("a", 1, 4, failed=1), _window("a", 1, 4, failed=1),  # a retry
              _window("a", 2, 4, failed=1), _window("b", 0, 1, uris=2)]  # fmt: skip
    (tmp_path / "w.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    totals = ProgressTotals(str(tmp_path))
    totals.update()
    assert (totals.inputs, totals.failed, totals.frames) == (0.75 + 2, 1, 50)


def test_a_run_accounts_for_every_input_once(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    valid = write_video(folder / "walk.mp4", frames=24, num_boxes=2)
    write_video(folder / "walk3.mkv", codec="mjpeg", frames=12, num_boxes=3)
    (folder / "copy.mp4").write_bytes(valid.read_bytes())  # identical content: decoded once
    broken = write_broken_inputs(folder, valid)
    (folder / "folder.mp4").mkdir()  # rejected while matching
    events = tmp_path / "events"
    events.mkdir()
    config = ExtractConfig(backend="shapes", progress_dir=str(events))
    assert count_inputs(str(folder)) == 3 + len(broken) + 1
    with TestPipeline(options=beam.options.pipeline_options.PipelineOptions(BEAM_TEST_OPTIONS)) as p:
        build(p, str(folder), str(tmp_path / "out"), config, "run")
    totals = ProgressTotals(str(events))
    totals.update()
    assert (totals.inputs, totals.failed) == (3 + len(broken) + 1, len(broken) + 1)
    assert totals.frames == 24 + 12  # the copy is not decoded again


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_shows_on_a_terminal_and_stays_quiet_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "POLL_S", 0.05)
    for stream, shown in ((_Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr("sys.stderr", stream)
        events = tmp_path / f"events{shown}"
        events.mkdir()
        with ProgressBar(str(events), total=3):
            record_event(str(events), inputs=1, failed=1)
            record_event(str(events), inputs=2)
            record_event(str(events), frames=100)
            time.sleep(0.3)
        text = stream.getvalue()
        if shown:
            assert "3/3" in text and "1 failed" in text and "frames/s" in text
        else:
            assert text == ""
