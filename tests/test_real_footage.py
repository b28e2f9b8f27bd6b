"""Real footage: the sample street clip (several walking people) through the default backend
(MoveNet), the whole job and the README's goals: ≥ 4 persons per frame over the first 100 frames,
≥ 80 % of person-frames in tracks of 20 frames or more, and the shipped classifier labelling most
of the pedestrians' clips ``walk``.

The clip comes from Debian's opencv-doc package (see posebeam.storage.sample); without network
access to the Debian mirror and no cached copy, these tests are skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synth_video import write_broken_inputs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from conftest import keypoint_frame
from extract import cut_clip

from posebeam.pipeline.cli import main
from posebeam.storage.sample import SampleUnavailable, cache_dir, fetch_sample


@pytest.fixture(scope="module")
def street_clip() -> Path:
    try:
        return fetch_sample(cache_dir() / "sample")
    except SampleUnavailable as err:
        pytest.skip(f"sample street clip unavailable: {err}")


def test_street_clip_with_broken_neighbours_through_posebeam_run(street_clip: Path, tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / street_clip.name).symlink_to(street_clip)
    expected_failures = write_broken_inputs(folder, street_clip)
    out = tmp_path / "out"

    # extract + the shipped classifier and segmenter (default) and aligner (asked for)
    assert main(["run", str(folder), str(out), "--aligner", "shipped"]) == 0

    videos = pd.read_parquet(out / "videos")
    failures = pd.read_parquet(out / "failures")
    keypoints = keypoint_frame(out)
    assert len(videos) == 1 and len(failures) == 3
    assert sorted(failures.uri.map(lambda u: Path(u).name)) == sorted(expected_failures)
    video = videos.iloc[0]
    assert (video.width, video.height, video.frames_decoded) == (768, 576, 795)

    per_frame = keypoints.groupby("frame_index").size().reindex(range(795), fill_value=0)
    assert per_frame[:100].mean() >= 4.0, f"only {per_frame[:100].mean():.2f} persons per frame (frames 0-99)"
    assert per_frame.mean() >= 3.0, f"only {per_frame.mean():.2f} persons per frame"
    track_length = keypoints.groupby("person_id").size()
    long_tracks = track_length[track_length >= 20]
    assert long_tracks.sum() / len(keypoints) >= 0.8, "most person-frames belong to tracks of 2 s or more"

    triplets = np.stack(keypoints.keypoints.to_numpy()).reshape(-1, 17, 3)
    assert triplets[..., 0].min() >= 0 and triplets[..., 0].max() <= 767
    assert triplets[..., 1].min() >= 0 and triplets[..., 1].max() <= 575
    assert 0.3 < triplets[..., 2].mean() <= 1.0
    predictions = pd.read_parquet(out / "clip_predictions")
    assert len(predictions) > 0 and set(predictions.video_id) == {video.video_id}
    assert set(predictions.person_id) <= set(keypoints.person_id)
    assert predictions.score.between(0, 1).all() and predictions.model.str.startswith("pose_slowonly@").all()
    # The shipped classifier on real pedestrians: most clips are walking (README: 67.8 % measured).
    walk_share = (predictions.label == "walk").mean()
    assert walk_share >= 0.6, f"only {walk_share:.0%} of the street clip's clips labelled walk"
    # The shipped segmenter: every row of every track of 8 rows or more is labelled, segments tile
    # each track, and most frames are walking or standing (README: 49.1 % + 30.4 % measured; the
    # rest is mostly punch, a known confusion).
    labels, segments = pd.read_parquet(out / "frame_labels"), pd.read_parquet(out / "segments")
    track_length = keypoints.groupby("person_id").size()
    assert len(labels) == track_length[track_length >= 8].sum()
    assert segments.groupby("person_id").apply(_tiles).all()
    pedestrian_share = labels.label.isin(["walk", "stand"]).mean()
    assert pedestrian_share >= 0.7, f"only {pedestrian_share:.0%} of the frames labelled walk or stand"
    # The shipped aligner embeds the same rows; posebeam align matches two walkers of the clip.
    embeddings = pd.read_parquet(out / "embeddings")
    assert len(embeddings) == len(labels) and np.isfinite(np.stack(embeddings.embedding.to_numpy())).all()
    walker_a, walker_b = track_length.sort_values().index[-2:]
    figure = tmp_path / "walkers.png"
    argv = ["align", str(out), street_clip.name, street_clip.name, "-o", str(figure)]
    assert main([*argv, "--person-a", str(walker_a), "--person-b", str(walker_b)]) == 0
    matches = pd.read_csv(figure.with_suffix(".csv"))
    assert len(matches) == track_length[walker_a] and matches.frame_b.is_monotonic_increasing
    # Anatomy, not noise: shoulders sit above hips, which sit above ankles (y grows downwards).
    confident = (triplets[:, [5, 11, 15], 2] > 0.3).all(axis=1)
    assert confident.mean() > 0.5
    shoulders, hips, ankles = (triplets[confident][:, j, 1] for j in (5, 11, 15))
    assert (shoulders < hips).mean() > 0.95 and (hips < ankles).mean() > 0.95


def _tiles(segments: pd.DataFrame) -> bool:
    ordered = segments.sort_values("start_frame")
    return bool((ordered.start_frame.to_numpy()[1:] == ordered.end_frame.to_numpy()[:-1]).all())


def test_rgbpose_stage_re_decodes_the_street_clip(
    street_clip: Path, rgbpose_weights: Path, tmp_path: Path
) -> None:
    # 60 frames (6 s) of real footage, the default backend, a (random) RGBPose checkpoint: the
    # model stage re-opens the clip and re-decodes its frames.
    folder = tmp_path / "archive"
    cut_clip(street_clip, folder / street_clip.name, 60)
    out = tmp_path / "out"

    assert (
        main(["run", str(folder), str(out), "--classifier", str(rgbpose_weights), "--segmenter", "none"]) == 0
    )

    keypoints = keypoint_frame(out)
    predictions = pd.read_parquet(out / "clip_predictions")
    assert len(predictions) >= 2, "several walkers are tracked for a clip window"
    assert set(predictions.person_id) <= set(keypoints.person_id)
    assert predictions.model.str.startswith("rgbpose_conv3d@").all()
    assert predictions.score.between(0, 1).all()
