"""End to end through the ``posebeam`` command line: tables on disk, exit codes, usage errors."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import assert_one_line_usage_error
from synth_video import write_broken_inputs

from posebeam.pipeline.cli import main
from posebeam.schemas.tables import SCHEMA_VERSION, TABLES


def _extract(*args: str) -> int:
    return main(["extract", *args, "--", "--runner=FnApiRunner"])


def test_extract_writes_three_tables_and_accounts_for_every_input(
    video_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected_failures = write_broken_inputs(video_folder, video_folder / "walk.mp4")
    out = tmp_path / "out"
    assert _extract(str(video_folder), str(out), "--backend", "shapes") == 0
    summary = capsys.readouterr().out
    assert re.search(r"videos done +2\n  inputs failed +3\n", summary)
    assert "1x [read] the file is empty (0 bytes)" in summary  # the commonest reasons, with counts
    assert re.search(r"frames +\d+  [\d.]+ frames/s", summary) and f"tables in {out}" in summary

    for table in ("videos", "keypoints", "failures"):
        schema = pq.read_schema(next((out / table).glob("*.parquet")))
        assert schema.metadata[b"posebeam.schema_version"] == SCHEMA_VERSION.encode()
        assert schema.remove_metadata().equals(TABLES[table].remove_metadata())
    videos = pd.read_parquet(out / "videos")
    failures = pd.read_parquet(out / "failures")
    names = sorted(Path(u).name for u in [*videos.uri, *failures.uri])
    assert names == sorted(p.name for p in video_folder.iterdir())
    assert (
        dict(zip(failures.uri.map(lambda u: Path(u).name), failures.stage, strict=True)) == expected_failures
    )
    assert failures.message.str.len().min() > 10

    # DuckDB reads the stored keypoints' integer columns natively, joined to the videos table.
    per_video = duckdb.sql(
        f"""select v.uri, count(*) as rows, max(k.nose_x / 2.0 - k.bbox_x1 / 2.0) <= max(v.width) as inside
        from read_parquet('{out}/keypoints/*.parquet') k
        join read_parquet('{out}/videos/*.parquet') v using (video_id)
        group by v.uri order by v.uri"""
    ).fetchall()
    assert [(Path(u).name, r, inside) for u, r, inside in per_video] == [
        ("walk.mp4", 48, True),
        ("walk3.mkv", 36, True),
    ]


def test_glob_and_uri_list_inputs(video_folder: Path, tmp_path: Path) -> None:
    listing = tmp_path / "inputs.txt"
    listing.write_text(f"# one per line\n{video_folder / 'walk.mp4'}\n\n")
    assert _extract(str(listing), str(tmp_path / "a"), "--backend", "shapes") == 0
    assert len(pd.read_parquet(tmp_path / "a" / "videos")) == 1
    assert _extract(str(video_folder / "*.mkv"), str(tmp_path / "b"), "--backend", "shapes") == 0
    assert list(pd.read_parquet(tmp_path / "b" / "videos").uri.map(lambda u: Path(u).name)) == ["walk3.mkv"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/folder", "OUT"], "no input videos match"),
        (["VIDEOS", "/proc/forbidden/out"], "cannot create output folder"),
        (["VIDEOS", "OUT", "--backend", "nope"], "invalid choice: 'nope'"),
        (["VIDEOS", "OUT", "--fps", "-1"], "must be positive"),
        (["VIDEOS"], "the following arguments are required: OUTPUT"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    video_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    args = [a.replace("VIDEOS", str(video_folder)).replace("OUT", str(tmp_path / "o")) for a in args]
    assert_one_line_usage_error(["extract", *args], message, capsys)
