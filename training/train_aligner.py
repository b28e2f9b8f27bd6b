"""Self-supervised training of the aligner on tracks alone, and per-frame embeddings of a track
(docs/method.md §7).

Each step takes ``batch_size`` training tracks; from each, a random window of ``clip_frames``
frames (the whole track when shorter) and one augmented copy of it
(:func:`~posebeam.transforms.alignment_views.augmented_copy`: the copy's frame correspondence is
exact). Both are rendered as the segmenter renders a track (joint + limb heatmaps in their own
smoothed boxes), zero-padded to the batch's longest and masked, embedded, passed through the
projection head, and scored by CASA's alignment loss (the copy's frames regress onto their
original's index), averaged over the pairs. Adam (CASA: 3e-4, gradient norm clipped at 0.5).
No labels are read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from posebeam.models.aligner import SpaceTimeAligner, alignment_loss
from posebeam.training.progress import Progress
from posebeam.transforms.alignment_views import AlignerSpec, AlignmentAugmentation, augmented_copy
from posebeam.transforms.frame_heatmaps import heatmap_chunks


@dataclass(frozen=True)
class AlignerConfig:
    """Training settings."""

    steps: int = 2000
    batch_size: int = 4
    lr: float = 3e-4
    grad_clip: float = 0.5
    seed: int = 0


DEFAULT_AUGMENTATION = AlignmentAugmentation()


@dataclass(frozen=True)
class TrackArrays:
    """One track's ``keypoints`` ``(T, 17, 2)`` pixels and ``scores`` ``(T, 17)``, dense."""

    keypoints: np.ndarray
    scores: np.ndarray


def build_aligner(spec: AlignerSpec) -> SpaceTimeAligner:
    """The untrained aligner ``spec`` describes."""
    sizes = (spec.heatmap_size, spec.patch, spec.dim, spec.depth, spec.heads, spec.embedding_dim)
    return SpaceTimeAligner(spec.num_channels, *sizes)


def render(keypoints: np.ndarray, scores: np.ndarray, spec: AlignerSpec) -> np.ndarray:
    """``(T, 34, S, S)`` heatmaps of a track in its own smoothed boxes."""
    frames = max(len(keypoints), 1)
    return np.concatenate(list(heatmap_chunks(keypoints, scores, spec.heatmaps(), frames)))


def _padded(volumes: Sequence[np.ndarray]) -> tuple[Tensor, Tensor]:
    longest = max(len(v) for v in volumes)
    batch = np.zeros((len(volumes), longest, *volumes[0].shape[1:]), dtype=np.float32)
    padding = np.ones((len(volumes), longest), dtype=bool)
    for i, volume in enumerate(volumes):
        batch[i, : len(volume)] = volume
        padding[i, : len(volume)] = False
    return torch.from_numpy(batch), torch.from_numpy(padding)


def pair_loss(
    model: SpaceTimeAligner, tracks: Sequence[TrackArrays], spec: AlignerSpec,
    augmentation: AlignmentAugmentation, rng: np.random.Generator,
) -> Tensor:  # fmt: skip
    """CASA's loss averaged over one window per track and its augmented copy (module doc)."""
    originals, copies, matches = [], [], []
    for track in tracks:
        start = int(rng.integers(0, max(len(track.keypoints) - spec.clip_frames, 0) + 1))
        keypoints = track.keypoints[start : start + spec.clip_frames]
        scores = track.scores[start : start + spec.clip_frames]
        copy = augmented_copy(keypoints, scores, rng, augmentation)
        originals.append(render(keypoints, scores, spec))
        copies.append(render(copy.keypoints, copy.scores, spec))
        matches.append(copy.match)
    device = next(model.parameters()).device
    x, x_pad = _padded(originals)
    y, y_pad = _padded(copies)
    copy_index = torch.from_numpy(np.stack([np.pad(m, (0, y.shape[1] - len(m))) for m in matches]))
    a = model.project(model(x.to(device), x_pad.to(device)))
    b = model.project(model(y.to(device), y_pad.to(device), frame_index=copy_index.to(device)))
    losses = [
        alignment_loss(a[i, : len(o)], b[i, : len(m)], torch.from_numpy(m).to(device))
        for i, (o, m) in enumerate(zip(originals, matches, strict=True))
    ]
    return torch.stack(losses).mean()


def fit_aligner(
    model: SpaceTimeAligner, tracks: Sequence[TrackArrays], spec: AlignerSpec, config: AlignerConfig,
    augmentation: AlignmentAugmentation = DEFAULT_AUGMENTATION,
) -> list[float]:  # fmt: skip
    """``config.steps`` steps of self-supervised alignment on random batches of ``tracks``; returns
    the losses."""
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    progress = Progress(config.steps, 1, label="aligner")
    model.train()
    losses = []
    for _ in range(config.steps):
        chosen = rng.choice(len(tracks), min(config.batch_size, len(tracks)), replace=False)
        loss = pair_loss(model, [tracks[i] for i in chosen], spec, augmentation, rng)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimiser.step()
        losses.append(loss.item())
        progress.step(0, loss.item())
    model.eval()
    return losses


@torch.no_grad()
def embed_track(
    model: SpaceTimeAligner, keypoints: np.ndarray, scores: np.ndarray, spec: AlignerSpec
) -> np.ndarray:
    """``(T, E)`` per-frame embeddings of a whole track (one pass; the model must be in eval mode)."""
    device = next(model.parameters()).device
    volume = torch.from_numpy(render(keypoints, scores, spec))[None].to(device)
    embeddings: np.ndarray = model(volume)[0].cpu().numpy()
    return embeddings
