"""Idempotent reruns, --resume, and a run killed with SIGKILL then resumed."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from synth_video import write_broken_inputs, write_video

from posebeam.pipeline.cli import main
from posebeam.pipeline.results_cache import ResultsCache
from posebeam.schemas.tables import SchemaVersionError
from posebeam.storage.parquet_tables import read_table

TESTS = Path(__file__).resolve().parent
TABLES = ("videos", "keypoints", "failures")


def _extract(folder: Path, out: Path, *extra: str) -> int:
    return main(
        ["extract", str(folder), str(out), "--backend", "shapes", *extra, "--", "--runner=FnApiRunner"]
    )


def _canonical(out: Path) -> dict[str, pd.DataFrame]:
    """Each table as a sorted frame (row order across part files is not part of the contract)."""
    frames = {}
    for table in TABLES:
        df = read_table(str(out), table).to_pandas()
        for column in df.columns:
            if df[column].map(lambda v: hasattr(v, "__len__") and not isinstance(v, str)).any():
                df[column] = df[column].map(tuple)
        frames[table] = df.sort_values(list(df.columns)).reset_index(drop=True)
    return frames


def _assert_same_tables(a: Path, b: Path) -> None:
    left, right = _canonical(a), _canonical(b)
    for table in TABLES:
        pd.testing.assert_frame_equal(left[table], right[table], check_like=False)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    folder = tmp_path / "archive"
    folder.mkdir()
    for i in range(6):
        write_video(folder / f"clip{i}.mp4", frames=16 + 4 * i, num_boxes=1 + i % 3)
    write_broken_inputs(folder, folder / "clip0.mp4")
    return folder


def test_rerun_replaces_tables_without_duplicates_or_stale_parts(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _extract(archive, out) == 0
    first = {t: sorted(p.name for p in (out / t).iterdir()) for t in TABLES}
    reference = tmp_path / "reference"
    assert _extract(archive, reference) == 0
    assert _extract(archive, out) == 0
    assert {t: sorted(p.name for p in (out / t).iterdir()) for t in TABLES} == first
    _assert_same_tables(out, reference)
    assert len(read_table(str(out), "videos")) == 6
    assert not (out / "_staging").exists()


def test_resume_reuses_finished_videos_and_only_with_the_same_options(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert _extract(archive, out) == 0
    reference = tmp_path / "reference"
    assert _extract(archive, reference) == 0
    capsys.readouterr()
    assert _extract(archive, out, "--resume") == 0
    # 6 videos plus the 2 failures decided by content (the empty file has no content hash).
    assert re.search(r"resumed +8 ", capsys.readouterr().out)
    _assert_same_tables(out, reference)
    assert _extract(archive, out, "--resume", "--fps", "4") == 0
    assert re.search(r"resumed +0 ", capsys.readouterr().out)


def test_killed_run_then_resume_gives_the_tables_of_an_uninterrupted_run(
    archive: Path, tmp_path: Path
) -> None:
    reference = tmp_path / "reference"
    assert _extract(archive, reference) == 0
    out = tmp_path / "out"
    script = (
        f"import sys; sys.path.insert(0, {str(TESTS)!r}); import conftest; "
        "from posebeam.pipeline.cli import main; "
        f"sys.exit(main(['extract', {str(archive)!r}, {str(out)!r}, '--backend', 'shapes', "
        "'--batch-size', '1', '--', '--runner=FnApiRunner']))"
    )
    env = {**os.environ, "POSEBEAM_SHAPES_DELAY_S": "0.02"}
    process = subprocess.Popen([sys.executable, "-c", script], env=env)
    cache = out / "_cache"
    deadline = time.monotonic() + 120
    while not list(cache.glob("*/*.arrow")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(random.Random(os.getpid()).uniform(0.0, 0.5))
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    finished = len(list(cache.glob("*/*.arrow")))
    assert 1 <= finished < 8
    assert not any((out / t).exists() for t in TABLES), "no table is visible before a run completes"

    assert _extract(archive, out, "--resume") == 0
    _assert_same_tables(out, reference)


def test_damaged_cache_entries_are_recomputed(tmp_path: Path) -> None:
    cache = ResultsCache(str(tmp_path))
    (tmp_path / "abc123.arrow").write_bytes(b"not arrow")
    assert cache.load("abc123") is None
    with pytest.raises(ValueError, match="not a content hash"):
        cache.load("../../etc/passwd")


def test_readers_refuse_tables_of_another_schema_version(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _extract(archive, out) == 0
    (part,) = (out / "videos").glob("*.parquet")
    table = pq.read_table(part)
    pq.write_table(table.replace_schema_metadata({b"posebeam.schema_version": b"9.0"}), part)
    with pytest.raises(SchemaVersionError, match=r"schema version 9\.0; this posebeam reads 2\.0"):
        read_table(str(out), "videos")
    assert isinstance(read_table(str(out), "keypoints"), pa.Table)


def test_publishing_to_an_object_store_replaces_tables_file_by_file(tmp_path: Path) -> None:
    """A ``file://`` URI takes the object-store branch (gs:// goes the same way, through pyarrow)."""
    from posebeam.storage.parquet_tables import STAGING_FOLDER, publish_tables, staging_dir

    output = tmp_path / "out"
    (output / "videos").mkdir(parents=True)
    (output / "videos" / "part-old.parquet").write_bytes(b"stale")
    for run_id, parts in (("r1", ["part-0.parquet", "part-1.parquet"]), ("r2", ["part-0.parquet"])):
        staged = Path(staging_dir(str(output), run_id)) / "videos"
        staged.mkdir(parents=True)
        for part in parts:
            (staged / part).write_bytes(run_id.encode())
        publish_tables(f"file://{output}", run_id, ["videos"])
        published = sorted(p.name for p in (output / "videos").iterdir())
        assert published == parts, "the previous run's parts are gone"
        assert {p.read_bytes() for p in (output / "videos").iterdir()} == {run_id.encode()}
        assert not Path(staging_dir(str(output), run_id)).exists()
    assert not any((output / STAGING_FOLDER).iterdir())
