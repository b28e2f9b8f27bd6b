"""Every local runner writes the same tables: the in-process FnApiRunner (default), its
multi-process mode with two workers, and the PortableRunner with an embedded job server (LOOPBACK),
on real footage (two pieces of the sample street clip) through the whole ``run`` job."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from extract import cut_clip

from posebeam.pipeline.cli import main
from posebeam.storage.sample import SampleUnavailable, cache_dir, fetch_sample

RUNNERS = {
    "in-process": ["--runner=FnApiRunner"],
    "two processes": [
        "--runner=FnApiRunner",
        "--direct_num_workers=2",
        "--direct_running_mode=multi_processing",
    ],
    "portable": ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"],
}
TABLE_KEYS = {
    "videos": ["video_id"],
    "keypoints": ["video_id", "frame_index", "person_id"],
    "clip_predictions": ["video_id", "person_id", "start_frame"],
    "frame_labels": ["video_id", "person_id", "frame_index"],
    "segments": ["video_id", "person_id", "start_frame"],
    "embeddings": ["video_id", "person_id", "frame_index"],
    "failures": ["uri"],
}


@pytest.fixture(scope="module")
def street_pieces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        clip = fetch_sample(cache_dir() / "sample")
    except SampleUnavailable as err:
        pytest.skip(f"sample street clip unavailable: {err}")
    folder = tmp_path_factory.mktemp("street")
    cut_clip(clip, folder / "first.avi", 30)
    cut_clip(clip, folder / "second.avi", 45)
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    return folder


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    tables = {}
    for name, keys in TABLE_KEYS.items():
        table = pd.read_parquet(out / name)
        if name == "failures":
            table = table.assign(uri=table.uri.map(lambda uri: Path(uri).name))
        if name == "videos":
            table = table.assign(uri=table.uri.map(lambda uri: Path(uri).name))
        tables[name] = table.sort_values(keys).reset_index(drop=True)
    return tables


def test_every_local_runner_writes_the_same_tables(street_pieces: Path, tmp_path: Path) -> None:
    results = {}
    for name, options in RUNNERS.items():
        out = tmp_path / name.replace(" ", "_")
        assert main(["run", str(street_pieces), str(out), "--aligner", "shipped", "--", *options]) == 0, name
        results[name] = _tables(out)
    reference = results["in-process"]
    assert len(reference["videos"]) == 2 and len(reference["failures"]) == 1
    assert len(reference["keypoints"]) > 100 and len(reference["embeddings"]) > 0
    for name, tables in results.items():
        for table, frame in tables.items():
            pd.testing.assert_frame_equal(
                frame, reference[table], check_exact=False, rtol=1e-4, obj=f"{name} {table}"
            )
