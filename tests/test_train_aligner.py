"""The aligner's self-supervised training on tracks alone, and per-frame embeddings."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from posebeam.models.aligner import build_aligner, embed_track
from posebeam.pipeline.cli import main
from posebeam.training.datasets import load_tracks
from posebeam.training.train_aligner import DEFAULT_AUGMENTATION, AlignerConfig, TrackArrays, fit_aligner
from posebeam.transforms.alignment_views import AlignerSpec

TINY = AlignerSpec(heatmap_size=16, patch=8, dim=32, depth=2, heads=4, embedding_dim=16, clip_frames=24)
SHORT_JITTER = replace(DEFAULT_AUGMENTATION, position_jitter=24)


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> list[TrackArrays]:
    data = tmp_path_factory.mktemp("repetitions") / "data"
    argv = ["synth", str(data), "--motion", "mocap", "--kind", "repetitions", "--videos", "4"]
    assert main([*argv, "--duration", "6", "--seed", "2"]) == 0
    grouped = load_tracks(str(data))
    return [TrackArrays(kp[..., :2], kp[..., 2]) for kp in grouped.keypoints.values() if len(kp) >= 24]


def test_training_lowers_casas_loss_without_labels(tracks: list[TrackArrays]) -> None:
    assert len(tracks) >= 2
    model = build_aligner(TINY)
    config = AlignerConfig(steps=120, batch_size=2, lr=2e-3)
    losses = fit_aligner(model, tracks, TINY, config, SHORT_JITTER)
    # measured 0.21-0.29 of the start for this seed (0.41-0.45 for the worst of three seeds)
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:10]), losses


def test_a_track_gets_one_embedding_per_frame_whatever_its_length(tracks: list[TrackArrays]) -> None:
    model = build_aligner(TINY).eval()
    track = tracks[0]
    embeddings = embed_track(model, track.keypoints, track.scores, TINY)
    assert embeddings.shape == (len(track.keypoints), 16) and np.isfinite(embeddings).all()


def test_spec_checks_patch_and_heads() -> None:
    with pytest.raises(ValueError, match="multiple of the patch"):
        AlignerSpec(heatmap_size=20, patch=8)
    with pytest.raises(ValueError, match="heads"):
        AlignerSpec(dim=30, heads=4)


def test_long_tracks_are_embedded_in_windows_and_short_ones_in_one_pass(tracks: list[TrackArrays]) -> None:
    from dataclasses import replace

    model = build_aligner(TINY).eval()
    track = tracks[0]
    whole = embed_track(model, track.keypoints, track.scores, replace(TINY, window=len(track.keypoints)))
    windowed = embed_track(model, track.keypoints, track.scores, replace(TINY, window=16))
    assert windowed.shape == whole.shape and np.isfinite(windowed).all()
    assert not np.allclose(windowed, whole)  # windows see less context
    again = embed_track(model, track.keypoints, track.scores, replace(TINY, window=16))
    np.testing.assert_array_equal(again, windowed)  # deterministic
