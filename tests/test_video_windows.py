"""Long videos cut into time windows (``--window_s``): planning, stitching, and the same keypoints
whatever the window size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import keypoint_frame
from synth_video import write_video

from posebeam.pipeline.cli import main
from posebeam.storage.parquet_tables import read_table
from posebeam.transforms.video_windows import (
    WHOLE_VIDEO,
    TimeWindow,
    TrackedRows,
    overlap_s,
    plan_windows,
    stitch_person_ids,
)


def test_windows_cover_the_video_and_the_last_one_runs_to_the_end() -> None:
    windows = plan_windows(130.0, 60.0, 2.0)
    assert windows == [
        TimeWindow(index=0, count=2, start_s=0.0, end_s=60.0, warmup_s=0.0),
        TimeWindow(index=1, count=2, start_s=60.0, end_s=None, warmup_s=58.0),
    ]
    assert [w.cache_key("ab12") for w in windows] == ["ab12w0of2", "ab12w1of2"]
    assert plan_windows(119.0, 60.0, 2.0) == [WHOLE_VIDEO]  # under two windows: one piece
    assert plan_windows(None, 60.0, 2.0) == [WHOLE_VIDEO]  # unknown duration
    assert plan_windows(float("nan"), 60.0, 2.0) == [WHOLE_VIDEO]
    assert plan_windows(3600.0, None, 2.0) == [WHOLE_VIDEO]
    assert WHOLE_VIDEO.cache_key("ab12") == "ab12"
    assert len(plan_windows(3600.0, 60.0, 2.0)) == 60
    mask = windows[0].reports(np.array([0.0, 59.99, 60.0]))
    assert mask.tolist() == [True, True, False]
    assert windows[1].reports(np.array([58.5, 60.0, 1e6])).tolist() == [False, True, True]


def test_the_overlap_spans_the_tracker_gap_and_several_sampled_frames() -> None:
    assert overlap_s(1.0, None) == 2.0
    assert overlap_s(3.0, None) == 6.0
    assert overlap_s(1.0, 0.5) == 8.0  # four frames at 0.5 fps


def _rows(
    frames: list[int], ids: list[int], xs: list[float], scores: list[float] | None = None
) -> TrackedRows:
    boxes = np.array([[x, 0.0, x + 10.0, 20.0] for x in xs])
    score = None if scores is None else np.array(scores)
    return TrackedRows(np.array(frames), np.array(frames, dtype=float), np.array(ids), boxes, score)


def test_stitching_follows_the_boxes_shared_in_the_overlap() -> None:
    first, second = TimeWindow(0, 2, 0.0, 10.0, 0.0), TimeWindow(1, 2, 10.0, None, 7.0)
    # Window 1: persons 0 (x=0) and 1 (x=50) from frame 0 to 9.
    a = _rows([f for f in range(10) for _ in (0, 1)], [0, 1] * 10, [0.0, 50.0] * 10)
    # Window 2 warms up on frames 7-9 with its own ids (5 is the x=50 person, 6 the x=0 one), then
    # a newcomer (id 7) appears at frame 11 while the x=50 person leaves.
    frames = [7, 7, 8, 8, 9, 9, 10, 10, 11, 11]
    b = _rows(frames, [5, 6] * 4 + [6, 7], [50.0, 0.0] * 4 + [0.0, 90.0])
    ids_a, ids_b = stitch_person_ids([first, second], [a, b], 0.25)
    assert ids_a.tolist() == [0, 1] * 10
    assert ids_b.tolist() == [-1] * 6 + [1, 0, 0, 2]


def test_a_person_first_seen_in_a_later_window_gets_a_new_id() -> None:
    first, second = TimeWindow(0, 2, 0.0, 10.0, 0.0), TimeWindow(1, 2, 10.0, None, 8.0)
    a = _rows([0, 1], [3, 3], [0.0, 0.0])  # ids are numbered from 0 by first appearance
    b = _rows([8, 12], [0, 1], [40.0, 40.0])  # seen only by window 2 (warm-up and reported)
    ids_a, ids_b = stitch_person_ids([first, second], [a, b], 0.25)
    assert ids_a.tolist() == [0, 0]
    assert ids_b.tolist() == [-1, 1]


def test_a_provisional_track_keeps_its_weak_rows_only_when_it_continues_an_earlier_track() -> None:
    """Window 2's tracker started tracks 5 and 6 on weak boxes (score 0.1) in its warm-up. Track 5
    shares its boxes with window 1's person 0, kept alive on weak boxes: it continues that person.
    Track 6 (x=70) shares nothing (window 1 tracked no one there): its rows count only from its
    first confident box, frame 12, where a single pass would start it."""
    first, second = TimeWindow(0, 2, 0.0, 10.0, 0.0), TimeWindow(1, 2, 10.0, None, 8.0)
    a = _rows([6, 7, 8, 9], [0] * 4, [0.0] * 4, [0.9, 0.9, 0.1, 0.1])
    frames = [8, 8, 9, 9, 10, 10, 11, 11, 12, 12]
    xs = [0.0, 70.0] * 5
    b = _rows(frames, [5, 6] * 5, xs, [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.9])
    ids_a, ids_b = stitch_person_ids([first, second], [a, b], 0.25)
    assert ids_a.tolist() == [0] * 4
    assert ids_b.tolist() == [-1, -1, -1, -1, 0, -1, 0, -1, 0, 1]


def _same_up_to_renaming(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """The same rows once ``person_id``s are renamed one-to-one."""
    order = ["frame_index", "x1"]
    left, right = (
        df.assign(x1=df["bbox"].map(lambda b: b[0])).sort_values(order).reset_index(drop=True)
        for df in (left, right)
    )
    assert len(left) == len(right)
    pairs = set(zip(left["person_id"], right["person_id"], strict=True))
    assert len(pairs) == left["person_id"].nunique() == right["person_id"].nunique(), pairs
    for column in ("frame_index", "timestamp_s", "bbox_score"):
        np.testing.assert_array_equal(left[column], right[column])
    for column in ("bbox", "keypoints"):
        np.testing.assert_array_equal(np.stack(left[column]), np.stack(right[column]))


@pytest.mark.parametrize("fps", [None, 4.0])
def test_keypoints_do_not_depend_on_the_window_size(tmp_path: Path, fps: float | None) -> None:
    # 20 s of three boxes walking right and wrapping around (tracks end and start mid-video), a
    # keyframe every second.
    (tmp_path / "in").mkdir()
    write_video(tmp_path / "in" / "long.mp4", frames=240, fps=12, num_boxes=3, gop=12)
    sampling = ["--fps", str(fps)] if fps else []
    outputs = {}
    for window_s in ("0", "3", "4.5"):
        out = tmp_path / f"out{window_s}"
        argv = ["extract", str(tmp_path / "in"), str(out), "--backend", "shapes", "--window_s", window_s]
        assert main([*argv, *sampling, "--resume", "--", "--runner=FnApiRunner"]) == 0
        outputs[window_s] = out
    cached = sorted(p.name for p in (outputs["3"] / "_cache").glob("*/*.arrow"))
    assert len(cached) == 6 and cached[0].endswith("w0of6.arrow"), cached
    whole = keypoint_frame(outputs["0"])
    assert whole["person_id"].nunique() >= 6  # wrapping boxes start new tracks
    videos = read_table(str(outputs["0"]), "videos").to_pandas()
    for window_s in ("3", "4.5"):
        _same_up_to_renaming(whole, keypoint_frame(outputs[window_s]))
        pd.testing.assert_frame_equal(read_table(str(outputs[window_s]), "videos").to_pandas(), videos)


def test_a_person_kept_alive_on_weak_detections_across_a_window_edge_keeps_its_rows(tmp_path: Path) -> None:
    """Box 0 is confident for 2 s, then dim (weak) until it wraps round at frame 64; a single pass
    keeps its track through the weak boxes. 4-s windows start at frame 48, warming up from frame 24,
    when it is already dim: the window's provisional track continues it (frames 48-63 kept). After
    the wrap no tracker starts a track on it, and the windows' provisional ones are dropped."""
    (tmp_path / "in").mkdir()
    write_video(tmp_path / "in" / "dim.mp4", frames=144, fps=12, num_boxes=2, gop=12, dim_from=24)
    outputs = {}
    for window_s in ("0", "4"):
        out = tmp_path / f"out{window_s}"
        argv = ["extract", str(tmp_path / "in"), str(out), "--backend", "shapes", "--window_s", window_s]
        assert main([*argv, "--", "--runner=FnApiRunner"]) == 0
        outputs[window_s] = keypoint_frame(out)
    whole = outputs["0"]
    first_box = whole[whole["bbox"].map(lambda b: b[1] < 40)]  # box 0's row of the frame
    assert set(range(24, 64)) <= set(first_box["frame_index"])  # weak rows continue the track
    assert first_box["frame_index"].max() < 64  # and no track starts on the dim box after its wrap
    _same_up_to_renaming(whole, outputs["4"])
