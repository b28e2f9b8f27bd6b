"""Self-supervised training of the aligner on tracks alone, and per-frame embeddings of a track
(docs/method.md §7).

Each step takes ``batch_size`` training tracks; from each, a random window of ``clip_frames``
frames (the whole track when shorter) and one augmented copy of it
(:func:`~posebeam.transforms.alignment_views.augmented_copy`: the copy's frame correspondence is
exact). Both are rendered as the segmenter renders a track (joint + limb heatmaps in their own
smoothed boxes), zero-padded to the batch's longest and masked, embedded (each with the temporal
code of its own frame positions: the copy's original indices would give the answer away), passed
through the projection head, and scored by CASA's alignment loss (the copy's frames regress onto their
original's index), averaged over the pairs. Adam (CASA: 3e-4, gradient norm clipped at 0.5).
No labels are read.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from posebeam.models.aligner import (
    ALIGNMENT_TASK,
    SpaceTimeAligner,
    alignment_loss,
    build_aligner,
    embed_track,
    load_aligner,
)
from posebeam.models.checkpoints import save_checkpoint
from posebeam.schemas.layouts import COCO17
from posebeam.training.alignment_units import evaluate_units, load_repetitions
from posebeam.training.datasets import frame_rate, load_tracks
from posebeam.training.progress import Progress
from posebeam.training.train_classifier import device
from posebeam.transforms.alignment_views import AlignerSpec, AlignmentAugmentation, augmented_copy
from posebeam.transforms.clip_inputs import CardSpec
from posebeam.transforms.frame_heatmaps import heatmap_chunks
from posebeam.transforms.track_coordinates import hip_torso_coordinates


@dataclass(frozen=True)
class AlignerConfig:
    """Training settings."""

    steps: int = 2000
    batch_size: int = 4
    lr: float = 3e-4
    grad_clip: float = 0.5
    seed: int = 0


DEFAULT_AUGMENTATION = AlignmentAugmentation()
ARCHITECTURE = "space_time_aligner"


@dataclass(frozen=True)
class TrackArrays:
    """One track's ``keypoints`` ``(T, 17, 2)`` pixels and ``scores`` ``(T, 17)``, dense."""

    keypoints: np.ndarray
    scores: np.ndarray


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


def _positions(padding: Tensor, start: Tensor) -> Tensor:
    return start[:, None] + torch.arange(padding.shape[1], device=padding.device)[None]


def pair_loss(
    model: SpaceTimeAligner, tracks: Sequence[TrackArrays], spec: AlignerSpec,
    augmentation: AlignmentAugmentation, rng: np.random.Generator,
) -> Tensor:  # fmt: skip
    """CASA's loss averaged over one window per track and its augmented copy (module doc)."""
    originals, copies, matches, offsets = [], [], [], []
    for track in tracks:
        start = int(rng.integers(0, max(len(track.keypoints) - spec.clip_frames, 0) + 1))
        keypoints = track.keypoints[start : start + spec.clip_frames]
        scores = track.scores[start : start + spec.clip_frames]
        copy = augmented_copy(keypoints, scores, rng, augmentation)
        originals.append(render(keypoints, scores, spec))
        copies.append(render(copy.keypoints, copy.scores, spec))
        matches.append(copy.match)
        offsets.append(rng.integers(0, augmentation.position_jitter + 1, 2))
    device = next(model.parameters()).device
    x, x_pad = _padded(originals)
    y, y_pad = _padded(copies)
    first = torch.as_tensor(np.array(offsets))  # each sequence's first temporal-code position
    a = model.project(model(x.to(device), x_pad.to(device), _positions(x_pad, first[:, 0]).to(device)))
    b = model.project(model(y.to(device), y_pad.to(device), _positions(y_pad, first[:, 1]).to(device)))
    losses = [
        alignment_loss(a[i, : len(o)], b[i, : len(m)], torch.from_numpy(m).to(device))
        for i, (o, m) in enumerate(zip(originals, matches, strict=True))
    ]
    return torch.stack(losses).mean()


@dataclass(frozen=True)
class AlignerInputs:
    """The aligner's training inputs (the registry entry's ``training_inputs``): a batch of tracks
    → CASA's loss on a window of each and its augmented copy (:func:`pair_loss`)."""

    spec: AlignerSpec
    augmentation: AlignmentAugmentation = DEFAULT_AUGMENTATION

    @classmethod
    def for_samples(cls, spec: CardSpec, data: str, samples: Sequence[Any]) -> AlignerInputs:
        assert isinstance(spec, AlignerSpec)
        return cls(spec)

    def loss(self, model: nn.Module, batch: Sequence[TrackArrays], rng: np.random.Generator) -> Tensor:
        assert isinstance(model, SpaceTimeAligner)
        return pair_loss(model, batch, self.spec, self.augmentation, rng)


def fit_aligner(
    model: SpaceTimeAligner, tracks: Sequence[TrackArrays], spec: AlignerSpec, config: AlignerConfig,
    augmentation: AlignmentAugmentation = DEFAULT_AUGMENTATION,
) -> list[float]:  # fmt: skip
    """``config.steps`` steps of self-supervised alignment on random batches of ``tracks``; returns
    the losses."""
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    inputs = AlignerInputs(spec, augmentation)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    progress = Progress(config.steps, 1, label="aligner")
    model.train()
    losses = []
    for _ in range(config.steps):
        chosen = rng.choice(len(tracks), min(config.batch_size, len(tracks)), replace=False)
        loss = inputs.loss(model, [tracks[i] for i in chosen], rng)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimiser.step()
        losses.append(loss.item())
        progress.step(0, loss.item())
    model.eval()
    return losses


def load_track_arrays(data: str, min_frames: int = 8) -> list[TrackArrays]:
    """Every track of ``data``'s keypoints table with at least ``min_frames`` rows, dense from its
    first to its last row (frames without it: scores 0)."""
    tracks = load_tracks(data)
    return [
        TrackArrays(*tracks.dense(video_id, person_id, int(frames[0]), int(frames[-1]) + 1))
        for (video_id, person_id), frames in sorted(tracks.frames.items())
        if len(frames) >= min_frames
    ]


def alignment_scores(
    model: SpaceTimeAligner | None, spec: AlignerSpec, data: str, seed: int, train_data: str | None = None
) -> dict[str, Any]:  # fmt: skip
    """The protocol on ``data``'s repetitions (:mod:`~posebeam.training.alignment_units`) for the
    aligner's embeddings (``aligner``) and hip-centred, torso-scaled keypoints (``baseline``); with
    ``train_data``, the readouts are fit on its repetitions and every unit of ``data`` is scored."""
    training = load_repetitions(train_data) if train_data is not None else None
    repetitions = load_repetitions(data, patterns_of=training)
    scores: dict[str, Any] = {}
    if model is not None:
        model.eval()
        scores["aligner"] = evaluate_units(
            lambda s: embed_track(model, s.keypoints, s.scores, spec), repetitions, seed, training
        )
    scores["baseline"] = evaluate_units(
        lambda s: hip_torso_coordinates(s.keypoints, s.scores), repetitions, seed, training
    )
    if train_data is not None:
        scores = {name: {**found, "readouts_fit_on": train_data} for name, found in scores.items()}
    return scores


def train(
    data: str, output: Path, config: AlignerConfig, spec: AlignerSpec, test_data: str | None = None,
    augmentation: AlignmentAugmentation = DEFAULT_AUGMENTATION,
) -> dict[str, Any]:  # fmt: skip
    """Train on every track of ``data`` (no labels read) and, with ``test_data`` (tables with
    ``phase_labels`` and ``frame_labels_gt``: held-out repetitions), score the aligner and the
    raw-keypoint baseline on it. Writes ``OUTPUT/space_time_aligner.safetensors`` and its card;
    returns the card."""
    started = time.monotonic()
    spec = replace(spec, fps=frame_rate(data) or spec.fps)
    train_tracks = load_track_arrays(data)
    if not train_tracks:
        raise ValueError(f"{data} has no track of 8 frames or more to train on")
    print(f"{len(train_tracks)} training tracks", flush=True)
    model = build_aligner(spec).to(device())
    losses = fit_aligner(model, train_tracks, spec, config, augmentation)
    metrics = alignment_scores(model, spec, test_data, config.seed) if test_data is not None else {}
    card = {
        "architecture": ARCHITECTURE,
        "task": ALIGNMENT_TASK,
        "layout": COCO17.name,
        "clip": spec.to_card(),
        "augmentation": asdict(augmentation),
        "parameters": sum(p.numel() for p in model.parameters()),
        "training": {**asdict(config), "data": data, "train_tracks": len(train_tracks),
                     "final_loss": round(float(np.mean(losses[-20:])), 4),
                     "minutes": round((time.monotonic() - started) / 60, 1)},
        "metrics": {"held_out": metrics, "test_data": test_data},
    }  # fmt: skip
    return save_checkpoint(model.state_dict(), output / f"{ARCHITECTURE}.safetensors", card)


def evaluate(weights: str, data: str, seed: int = 0, train_data: str | None = None) -> dict[str, Any]:
    """``{"aligner": ..., "baseline": ...}``: the protocol's scores on ``data``'s repetitions, the
    readouts fit on ``train_data``'s when given (:func:`alignment_scores`)."""
    model, spec, _ = load_aligner(weights, device=str(device()))
    return alignment_scores(model, spec, data, seed, train_data)
