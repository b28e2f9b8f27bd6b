"""Loaders from keypoints + label tables to training samples, their errors, and the keypoint baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from posebeam.pipeline.cli import main
from posebeam.schemas.records import keypoints_table
from posebeam.training.baseline import evaluate_clips, normalise_pose, window_features
from posebeam.training.datasets import (
    KEYPOINT_CSV_COLUMNS,
    LabelError,
    load_clips,
    load_frame_sequences,
    load_tracks,
)

VIDEO = "v" * 32


def _keypoints(frames: list[int], person: int = 0, video: str = VIDEO) -> pa.Table:
    """Rows of one person whose joint ``j`` sits at (frame + j, 10 * j) with confidence 0.5."""
    n = len(frames)
    kp = np.zeros((n, 17, 3))
    kp[..., 0] = np.array(frames)[:, None] + np.arange(17)
    kp[..., 1] = 10.0 * np.arange(17)
    kp[..., 2] = 0.5
    return keypoints_table(
        video,
        np.array(frames),
        np.array(frames) / 10,
        np.full(n, person),
        np.zeros((n, 4)),
        np.ones(n),
        kp,
        10_000,
        10_000,
    )


@pytest.fixture
def keypoints() -> pa.Table:
    """Video ``VIDEO``: person 0 on frames 0–9 except 4, person 1 on frames 0–4."""
    return pa.concat_tables([_keypoints([0, 1, 2, 3, 5, 6, 7, 8, 9]), _keypoints([0, 1, 2, 3, 4], person=1)])


def _clip_labels(tmp_path: Path, rows: list[tuple[str, int, int, int, str]]) -> str:
    path = tmp_path / "clip_labels.csv"
    pd.DataFrame(rows, columns=["video_id", "person_id", "start_frame", "end_frame", "label"]).to_csv(
        path, index=False
    )
    return str(path)


def test_clip_samples_are_dense_with_missing_frames_at_zero(keypoints: pa.Table, tmp_path: Path) -> None:
    labels = _clip_labels(
        tmp_path, [(VIDEO, 0, 2, 7, "wave"), (VIDEO, 1, 0, 5, "clap"), (VIDEO, 0, 7, 10, "clap")]
    )
    samples, classes = load_clips(keypoints, labels)
    assert classes == ["clap", "wave"]
    first = samples[0]
    assert (first.person_id, first.start_frame, first.end_frame, first.label) == (0, 2, 7, 1)
    assert first.keypoints.shape == (5, 17, 2) and first.scores.shape == (5, 17)
    assert first.scores[:, 0].tolist() == [0.5, 0.5, 0.0, 0.5, 0.5]  # frame 4 has no row
    assert first.keypoints[:, 3, 0].tolist() == [5.0, 6.0, 0.0, 8.0, 9.0]
    assert [s.label for s in samples] == [1, 0, 0]


def test_keypoints_and_labels_from_csv_give_the_same_samples(keypoints: pa.Table, tmp_path: Path) -> None:
    frame = keypoints.select(["video_id", "frame_index", "person_id"]).to_pandas()
    values = np.stack(keypoints.column("keypoints").to_numpy(zero_copy_only=False))
    frame[KEYPOINT_CSV_COLUMNS] = values
    frame.to_csv(tmp_path / "keypoints.csv", index=False)
    labels = _clip_labels(tmp_path, [(VIDEO, 0, 0, 10, "wave")])
    from_csv, _ = load_clips(str(tmp_path / "keypoints.csv"), labels)
    from_arrow, _ = load_clips(keypoints, labels)
    np.testing.assert_array_equal(from_csv[0].keypoints, from_arrow[0].keypoints)
    np.testing.assert_array_equal(from_csv[0].scores, from_arrow[0].scores)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [(VIDEO, 0, 0, 5, "wave"), ("other", 0, 0, 5, "wave")],
            "clip_labels row 1: video 'other' has no keypoints",
        ),
        ([(VIDEO, 7, 0, 5, "wave")], f"clip_labels row 0: video '{VIDEO}' person 7 has no keypoints"),
        (
            [(VIDEO, 0, 0, 5, "wave"), (VIDEO, 1, 0, 5, "clap"), (VIDEO, 0, 3, 8, "clap")],
            f"clip_labels rows 0 and 2 overlap: video '{VIDEO}' person 0, frames [0, 5) and frames [3, 8)",
        ),
        ([(VIDEO, 0, 6, 12, "wave")], "frames [6, 12) outside the video's frames [0, 10)"),
        ([(VIDEO, 0, -1, 3, "wave")], "frames [-1, 3) outside"),
        ([(VIDEO, 0, 5, 5, "wave")], "frames [5, 5) outside"),
    ],
)
def test_labels_that_do_not_fit_the_keypoints_name_the_row(
    keypoints: pa.Table, tmp_path: Path, rows: list[tuple[str, int, int, int, str]], message: str
) -> None:
    with pytest.raises(LabelError) as error:
        load_clips(keypoints, _clip_labels(tmp_path, rows))
    assert message in str(error.value)


def test_video_length_comes_from_the_videos_table(keypoints: pa.Table, tmp_path: Path) -> None:
    labels = _clip_labels(tmp_path, [(VIDEO, 0, 8, 12, "wave")])
    videos = pa.table({"video_id": [VIDEO], "frames_decoded": [12]})
    samples, _ = load_clips(keypoints, labels, videos=videos)
    assert samples[0].scores[:, 0].tolist() == [0.5, 0.5, 0.0, 0.0]


def test_malformed_label_tables_are_refused(keypoints: pa.Table, tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("video_id,person_id,start_frame,label\nx,0,0,wave\n")
    with pytest.raises(LabelError, match="clip_labels: missing columns end_frame"):
        load_clips(keypoints, str(tmp_path / "bad.csv"))
    (tmp_path / "bad.csv").write_text(
        f"video_id,person_id,start_frame,end_frame,label\n{VIDEO},0,0,2.5,wave\n"
    )
    with pytest.raises(LabelError, match=r"clip_labels row 0: end_frame '2\.5' is not an integer"):
        load_clips(keypoints, str(tmp_path / "bad.csv"))
    with pytest.raises(LabelError, match="labels jump are not among the classes clap, wave"):
        load_clips(keypoints, _clip_labels(tmp_path, [(VIDEO, 0, 0, 2, "jump")]), classes=["clap", "wave"])


def test_frame_labels_become_per_frame_sequences(keypoints: pa.Table) -> None:
    labels = pa.table(
        {
            "video_id": [VIDEO] * 4,
            "person_id": [0, 0, 0, 1],
            "frame_index": [3, 4, 6, 0],
            "label": ["idle", "wave", "wave", "clap"],
        }
    )
    sequences, classes = load_frame_sequences(keypoints, labels)
    assert classes == ["clap", "idle", "wave"]
    first = sequences[0]
    assert (first.person_id, first.start_frame, first.labels.tolist()) == (0, 3, [1, 2, -1, 2])
    assert first.scores[:, 0].tolist() == [0.5, 0.0, 0.5, 0.5]
    duplicate = pa.table(
        {"video_id": [VIDEO] * 2, "person_id": [0, 0], "frame_index": [3, 3], "label": ["a", "b"]}
    )
    with pytest.raises(
        LabelError, match=f"frame_labels_gt rows 0 and 1 overlap: video '{VIDEO}' person 0, frame 3"
    ):
        load_frame_sequences(keypoints, duplicate)


def test_synth_tables_load_for_all_three_tasks(tmp_path: Path) -> None:
    assert main(["synth", str(tmp_path), "--videos", "3", "--kind", "sequences", "--duration", "8"]) == 0
    tracks = load_tracks(str(tmp_path))
    clips, classes = load_clips(tracks, str(tmp_path), exclude=("idle",))
    assert clips and "idle" not in classes
    frames, action_names = load_frame_sequences(tracks, str(tmp_path))
    assert "idle" in action_names
    assert all((s.labels >= 0).all() and s.start_frame + len(s.labels) <= 120 for s in frames)
    phases, phase_names = load_frame_sequences(tracks, str(tmp_path), table="phase_labels")
    assert phases[0].progress is not None and np.nanmax(phases[0].progress) < 1
    assert len(phase_names) > 3


def test_normalisation_centres_on_the_hips_in_torso_lengths() -> None:
    kp = np.zeros((2, 17, 2))
    kp[:, [11, 12]] = [[90.0, 200.0], [110.0, 200.0]]
    kp[:, [5, 6]] = [[90.0, 150.0], [110.0, 150.0]]
    kp[:, 0] = [100.0, 125.0]
    scores = np.ones((2, 17))
    scores[1, 0] = 0
    norm = normalise_pose(kp, scores)
    assert norm[0, 0].tolist() == [0.0, -1.5]
    assert norm[1, 0].tolist() == [0.0, 0.0]  # missing stays at the centre
    assert norm[0, 5].tolist() == [-0.2, -1.0]
    assert window_features(kp, scores, frames=4).shape == (4 * 17 * 2,)


def test_baseline_is_above_chance_and_below_perfect_on_synth_clips(tmp_path: Path) -> None:
    assert main(["synth", str(tmp_path), "--videos", "220", "--seed", "7"]) == 0
    clips, classes = load_clips(str(tmp_path), str(tmp_path))
    report = evaluate_clips(clips, len(classes), seed=0)
    assert len(classes) == 11 and report.num_test > 50
    assert 3 * report.chance < report.test_accuracy < 0.95
