"""The aligner's self-supervised training on tracks alone, and per-frame embeddings."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from posebeam.models.aligner import build_aligner, embed_track
from posebeam.pipeline.cli import main
from posebeam.training.datasets import load_tracks
from posebeam.training.train_aligner import DEFAULT_AUGMENTATION, AlignerConfig, TrackArrays, fit_aligner
from posebeam.transforms.alignment_views import AlignerSpec
from posebeam.transforms.windows import blended_windows

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


def test_blended_windows_every_quarter_weigh_each_frame_towards_window_centres() -> None:
    ((start, weights),) = blended_windows(10, 16)
    assert start == 0 and weights.tolist() == [1.0] * 10  # a short track: one window
    windows = blended_windows(40, 16)
    assert [start for start, _ in windows] == [0, 4, 8, 12, 16, 20, 24]
    middle = windows[3][1]
    assert middle.tolist() == [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 7.5, 6.5, 5.5, 4.5, 3.5, 2.5, 1.5, 0.5]
    assert windows[0][1][:8].tolist() == [7.5] * 8 and windows[-1][1][8:].tolist() == [7.5] * 8
    covered = np.zeros(40)
    for start, weights in windows:
        covered[start : start + len(weights)] += weights
    assert covered.min() == 7.5  # the track's ends weigh as much as its middle's best-placed frames


class _PerFrame(nn.Module):
    """A context-free "aligner": each frame's embedding depends on its heatmaps only."""

    def __init__(self) -> None:
        super().__init__()
        self.readout = nn.Linear(TINY.num_channels, 16)

    def forward(self, heatmaps: torch.Tensor) -> torch.Tensor:
        return self.readout(heatmaps.mean(dim=(-1, -2)))


def test_the_blended_embedding_of_a_context_free_model_is_its_one_pass_embedding(
    tracks: list[TrackArrays],
) -> None:
    torch.manual_seed(0)
    model = _PerFrame()
    track = max(tracks, key=lambda t: len(t.keypoints))
    assert len(track.keypoints) > 2 * 16
    whole = embed_track(model, track.keypoints, track.scores, replace(TINY, window=len(track.keypoints)))
    windowed = embed_track(model, track.keypoints, track.scores, replace(TINY, window=16))
    np.testing.assert_allclose(windowed, whole, rtol=1e-5, atol=1e-6)
