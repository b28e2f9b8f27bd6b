"""``posebeam synth`` end to end: extract-like tables, label tables, determinism, rendering, usage errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import assert_one_line_usage_error, keypoint_frame

from posebeam.pipeline.cli import main
from posebeam.schemas.labels import LABEL_TABLES
from posebeam.schemas.tables import SCHEMA_VERSION, TABLES
from posebeam.storage.parquet_tables import read_table
from posebeam.storage.video import VideoReader
from posebeam.synth.actions import ACTIONS
from posebeam.synth.noise import NoiseConfig
from posebeam.synth.scene import SceneConfig, label_columns, synth_video_id, synthesise

ALL_TABLES = ("videos", "keypoints", *LABEL_TABLES)


def _synth(out: Path, *args: str) -> int:
    return main(["synth", str(out), *args])


def _bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_synth_writes_extract_schemas_and_label_tables(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _synth(out, "--videos", "3", "--seed", "5", "--persons", "2") == 0
    for table in ALL_TABLES:
        files = list((out / table).glob("*.parquet"))
        assert [f.name for f in files] == ["part-00000.parquet"]
        schema = pq.read_schema(files[0])
        expected = TABLES.get(table, LABEL_TABLES.get(table))
        assert schema.metadata[b"posebeam.schema_version"] == SCHEMA_VERSION.encode()
        assert schema.metadata[b"posebeam.table"] == table.encode()
        assert schema.remove_metadata().equals(expected.remove_metadata())
        assert read_table(str(out), table).num_rows > 0  # the schema-checked reader accepts it
    assert (
        pq.read_metadata(out / "keypoints" / "part-00000.parquet").row_group(0).column(0).compression
        == "ZSTD"
    )
    videos = pd.read_parquet(out / "videos")
    assert videos.video_id.tolist() == [synth_video_id(5, i) for i in range(3)]
    assert videos.uri.tolist() == ["synth://5/0", "synth://5/1", "synth://5/2"]
    assert set(videos.backend) == {"synth"}
    assert videos.frames_decoded.tolist() == [45, 45, 45]  # 3 s at 15 fps
    keypoints = keypoint_frame(out)
    rows = keypoints.groupby("video_id").size()
    assert rows.loc[videos.video_id].tolist() == videos.person_frames.tolist()
    assert set(pd.read_parquet(out / "clip_labels").label) <= set(ACTIONS)


def test_synth_is_deterministic_for_a_seed_and_differs_across_seeds(tmp_path: Path) -> None:
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        assert _synth(tmp_path / name, "--videos", "2", "--seed", seed, "--persons", "2") == 0
    a, b, c = (_bytes(tmp_path / name) for name in "abc")
    assert a == b
    assert a.keys() == c.keys()
    assert all(a[k] != c[k] for k in a)


def test_a_video_does_not_depend_on_how_many_are_generated(tmp_path: Path) -> None:
    assert _synth(tmp_path / "two", "--videos", "2") == 0
    assert _synth(tmp_path / "five", "--videos", "5") == 0
    two, five = (
        keypoint_frame(tmp_path / "two"),
        keypoint_frame(tmp_path / "five"),
    )
    head = five[five.video_id.isin(two.video_id.unique())].reset_index(drop=True)
    pd.testing.assert_frame_equal(head, two)


def test_render_writes_decodable_videos_named_in_the_videos_table(tmp_path: Path) -> None:
    args = ["--videos", "2", "--duration", "1", "--size", "128x96", "--render"]
    assert _synth(tmp_path / "a", *args) == 0
    assert _synth(tmp_path / "b", *args) == 0
    videos = pd.read_parquet(tmp_path / "a" / "videos")
    for row in videos.itertuples():
        assert Path(row.uri) == (tmp_path / "a" / "videos_rgb" / f"{row.video_id}.mp4").resolve()
        with open(row.uri, "rb") as handle:
            reader = VideoReader(handle)
            frames = [f.rgb for f in reader.frames()]
        assert len(frames) == 15 and frames[0].shape == (96, 128, 3)
        assert row.codec == reader.info.codec == "mpeg4"
        assert frames[0].std() > 5  # a textured background, not a flat colour
        assert (tmp_path / "b" / "videos_rgb" / Path(row.uri).name).read_bytes() == Path(row.uri).read_bytes()


def test_rerun_replaces_the_tables(tmp_path: Path) -> None:
    assert _synth(tmp_path, "--videos", "4") == 0
    assert _synth(tmp_path, "--videos", "1") == 0
    assert len(pd.read_parquet(tmp_path / "videos")) == 1
    assert not (tmp_path / "_staging").exists()


def test_sequences_chain_actions_with_idle_and_label_every_frame() -> None:
    video = synthesise(0, 0, SceneConfig(kind="sequences", duration_s=20, noise=NoiseConfig().scaled(0)))
    labels = label_columns(video)
    clips = labels["clip_labels"]
    assert len(clips["label"]) >= 5 and "idle" in set(clips["label"]) and len(set(clips["label"])) >= 3
    assert clips["start_frame"][0] == 0 and clips["end_frame"][-1] == 300
    assert np.array_equal(clips["start_frame"][1:], clips["end_frame"][:-1])  # contiguous, no overlap
    assert labels["frame_labels_gt"]["frame_index"].tolist() == list(range(300))
    phases = labels["phase_labels"]
    assert 0 < len(phases["phase"]) < 300  # idle and blending frames have no phase
    assert np.all((phases["progress"] >= 0) & (phases["progress"] < 1))


def test_repetitions_restart_progress_at_each_repetition() -> None:
    config = SceneConfig(kind="repetitions", duration_s=12, actions=("squat",), noise=NoiseConfig().scaled(0))
    phases = label_columns(synthesise(1, 0, config))["phase_labels"]
    restarts = np.flatnonzero(np.diff(phases["progress"]) < -0.5)
    assert 2 <= len(restarts) <= 8
    first = phases["phase"][: restarts[0] + 1]
    assert list(dict.fromkeys(first)) == ["descend", "bottom", "ascend", "rest"]


def test_track_switches_move_the_labels_with_the_track() -> None:
    noise = dataclasses.replace(NoiseConfig().scaled(0), track_switch_p=1.0)
    config = SceneConfig(max_persons=2, actions=("squat", "wave"), noise=noise)
    video = next(v for i in range(20) if len((v := synthesise(0, i, config)).persons) == 2)
    ids = np.stack([p.track_id for p in video.persons])
    switch = int(np.flatnonzero(ids[0] != ids[0, 0])[0])
    frames = label_columns(video)["frame_labels_gt"]
    track0 = frames["label"][frames["person_id"] == ids[0, 0]]
    assert track0[switch - 1] == video.persons[0].performance.label[0]
    assert track0[switch] == video.persons[1].performance.label[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--actions", "wave,moonwalk"], "unknown actions moonwalk"),
        (["--videos", "0"], "must be positive"),
        (["--size", "100"], "expected WIDTHxHEIGHT"),
        (["--kind", "films"], "invalid choice: 'films'"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert_one_line_usage_error(["synth", str(tmp_path / "o"), *args], message, capsys)
