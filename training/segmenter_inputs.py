"""Labelled tracks → the segmenter's two training objectives (docs/method.md §6).

Step (a) trains the per-frame encoder and head on single frames: each epoch every training track
gets one augmented :class:`TrackView` (:meth:`SegmenterInputs.views`): missing keypoints simulated
(a joint-drop rate ``p ~ U(0, max_joint_drop)`` per track, each joint of each frame dropped with
probability ``p``, each whole frame with ``frame_drop``), the crop boxes computed from what is left
and jittered (side × ``U(scale)``, centre moved by up to ``shift`` × side), and the track mirrored
with probability ``flip``. :meth:`SegmenterInputs.loss` renders a batch of frames of different
tracks in one call and scores the frame head with cross-entropy.

Step (b) trains MS-TCN++ on features of the frozen encoder, computed once per track
(:meth:`SegmenterInputs.features`): the clean track and ``augmented_copies`` augmented views.
:func:`tcn_loss` pads a batch of feature sequences, masks the padding
(:func:`~posebeam.models.ms_tcn.padding_mask`) and takes MS-TCN++'s loss; unlabelled frames
(label -1) are ignored like padding in the cross-entropy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from posebeam.models.ms_tcn import IGNORE_INDEX, padding_mask, segmentation_loss
from posebeam.models.segment_track import track_features
from posebeam.models.segmenter import HeatmapSegmenter, TemporalSegmenter
from posebeam.training.datasets import FrameSequence
from posebeam.transforms.clip_inputs import CardSpec
from posebeam.transforms.frame_heatmaps import (
    FLIP_CHANNELS,
    SegmenterSpec,
    crop_heatmaps,
    drop_keypoints,
)
from posebeam.transforms.heatmaps import flip_heatmaps


@dataclass(frozen=True)
class Augmentation:
    """Training augmentation of a track (module doc); probabilities and fractions."""

    max_joint_drop: float = 0.3
    frame_drop: float = 0.05
    flip: float = 0.5
    scale: tuple[float, float] = (0.9, 1.1)
    shift: float = 0.05


@dataclass(frozen=True)
class TrackView:
    """A track as the encoder sees it: ``keypoints`` ``(T, 17, 2)`` pixels, ``scores`` ``(T, 17)``
    (after dropout), crop ``boxes`` ``(T, 3)`` (left, top, side), mirrored or not, the frame
    ``labels`` ``(T,)`` (-1 = unlabelled), and for models with an RGB stream its ``rgb`` crops
    ``(T, s, s, 3)``."""

    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    flip: bool
    labels: np.ndarray
    rgb: np.ndarray | None = None


def clean_view(sequence: FrameSequence, spec: SegmenterSpec) -> TrackView:
    """The track as inference sees it."""
    boxes = spec.boxes(sequence.keypoints, sequence.scores)
    return TrackView(sequence.keypoints, sequence.scores, boxes, False, sequence.labels)


def augmented_view(
    sequence: FrameSequence, spec: SegmenterSpec, augmentation: Augmentation, rng: np.random.Generator
) -> TrackView:
    """One random augmentation of the track (module doc)."""
    a = augmentation
    scores = drop_keypoints(sequence.scores, rng, max_joint_p=a.max_joint_drop, frame_p=a.frame_drop)
    boxes = spec.boxes(sequence.keypoints, scores)
    side = boxes[:, 2] * rng.uniform(*a.scale)
    centre = boxes[:, :2] + boxes[:, 2:] / 2 + rng.uniform(-a.shift, a.shift, 2) * boxes[:, 2:]
    boxes = np.concatenate([centre - side[:, None] / 2, side[:, None]], axis=1)
    return TrackView(sequence.keypoints, scores, boxes, bool(rng.random() < a.flip), sequence.labels)


def render_frames(frames: Sequence[tuple[TrackView, int]], spec: SegmenterSpec) -> np.ndarray:
    """``(B, 34, S, S)`` heatmaps of frame ``t`` of each ``(view, t)``, rendered in one call."""
    keypoints = np.stack([view.keypoints[t] for view, t in frames])
    scores = np.stack([view.scores[t] for view, t in frames])
    boxes = np.stack([view.boxes[t] for view, t in frames])
    volume = crop_heatmaps(keypoints, scores, boxes, spec.heatmap_size, sigma=spec.sigma)
    flipped = np.array([view.flip for view, _ in frames])
    if flipped.any():
        volume[flipped] = flip_heatmaps(volume[flipped], FLIP_CHANNELS)
    return volume


def labelled_frames(views: Sequence[TrackView]) -> list[tuple[int, int]]:
    """``(view, frame)`` of every labelled frame of ``views``."""
    return [(i, int(t)) for i, view in enumerate(views) for t in np.flatnonzero(view.labels >= 0)]


@dataclass(frozen=True)
class SegmenterInputs:
    """The segmenter's training inputs (the registry entry's ``training_inputs``)."""

    spec: SegmenterSpec
    augmentation: Augmentation = Augmentation()

    @classmethod
    def for_samples(cls, spec: CardSpec, data: str, samples: Sequence[Any]) -> SegmenterInputs:
        assert isinstance(spec, SegmenterSpec)
        return cls(spec)

    def card_entries(self) -> dict[str, Any]:
        return {
            "task": "action segmentation: a label per frame of one tracked person",
            "augmentation": asdict(self.augmentation),
        }

    def clean_view(self, sequence: FrameSequence) -> TrackView:
        """The track as inference sees it."""
        return clean_view(sequence, self.spec)

    def augmented_view(self, sequence: FrameSequence, rng: np.random.Generator) -> TrackView:
        """One random augmentation of the track."""
        return augmented_view(sequence, self.spec, self.augmentation, rng)

    def views(self, sequences: Sequence[FrameSequence], rng: np.random.Generator) -> list[TrackView]:
        """One augmented view per track (drawn anew each epoch)."""
        return [self.augmented_view(s, rng) for s in sequences]

    def loss(
        self, model: nn.Module, batch: Sequence[tuple[TrackView, int]], rng: np.random.Generator
    ) -> Tensor:
        """Cross-entropy of the per-frame head on a batch of ``(view, frame)`` (step a)."""
        assert isinstance(model, HeatmapSegmenter)
        device = next(model.parameters()).device
        frames = torch.from_numpy(render_frames(batch, self.spec)).to(device)
        labels = torch.tensor([view.labels[t] for view, t in batch], device=device)
        return nn.functional.cross_entropy(model.frame_logits(model.encode(frames)), labels)

    def features(self, model: TemporalSegmenter, view: TrackView, chunk_frames: int) -> Tensor:
        """``(D, T)`` features of a view by the model's encoders, in eval mode."""
        assert isinstance(model, HeatmapSegmenter)
        return track_features(
            model,
            view.keypoints,
            view.scores,
            self.spec,
            chunk_frames,
            view.rgb,
            boxes=view.boxes,
            flip=view.flip,
        )


def tcn_loss(model: TemporalSegmenter, batch: Sequence[tuple[Tensor, np.ndarray]]) -> Tensor:
    """MS-TCN++'s loss on a batch of ``((D, T_i) features, (T_i,) labels)``, zero-padded to the
    longest and masked (step b)."""
    lengths = [len(labels) for _, labels in batch]
    longest = max(lengths)
    first = batch[0][0]
    x = first.new_zeros(len(batch), first.shape[0], longest)
    targets = torch.full((len(batch), longest), IGNORE_INDEX, dtype=torch.long)
    for i, (features, labels) in enumerate(batch):
        x[i, :, : len(labels)] = features
        targets[i, : len(labels)] = torch.from_numpy(np.where(labels >= 0, labels, IGNORE_INDEX))
    mask = padding_mask(lengths, longest).to(x.device)
    return segmentation_loss(model.temporal(x, mask), targets.to(x.device), mask)
