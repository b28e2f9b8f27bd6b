"""Segment one track of any length with bounded memory, and load a segmenter checkpoint.

:func:`segment_track` is what a Beam handler calls per track (docs/method.md §6, long tracks):

1. crop boxes for the whole track (``(T, 3)`` floats, :func:`~posebeam.transforms.frame_heatmaps.
   track_boxes`), then heatmaps and encoder features ``chunk_frames`` frames at a time: the encoder
   is per frame, so only one chunk of heatmaps (``chunk_frames · 34 · S²`` floats) is ever held and
   the features do not depend on the chunk size;
2. MS-TCN++ on the ``(D, T)`` features: in one pass when ``T ≤ tcn_window``, else on windows of
   ``tcn_window`` frames every ``tcn_window // 2`` frames (the last one ending at the track's end),
   each frame labelled by the window whose centre is nearest. Windows keep the temporal model on
   inputs like its training tracks (tens of seconds, zero beyond the ends) and its memory bounded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from posebeam.models.checkpoints import load_checkpoint
from posebeam.models.metrics import with_temperature
from posebeam.models.registry import SEGMENTER, architecture
from posebeam.models.rgb_segmenter import RGBHeatmapSegmenter, encode_rgb_crops
from posebeam.models.segmenter import HeatmapSegmenter, TemporalSegmenter, encode_chunks, heatmap_segmenter
from posebeam.transforms.frame_heatmaps import SegmenterSpec, heatmap_chunks
from posebeam.transforms.rgb_crops import RGBSegmenterSpec
from posebeam.transforms.windows import owned_frames

DEFAULT_CHUNK_FRAMES = 256

SHIPPED_SEGMENTER = Path(__file__).with_name("weights") / "segmenter_heatmap_mstcn_mocap.safetensors"
"""The heatmap CNN + MS-TCN++ trained on ``posebeam synth --kind sequences`` that ``posebeam run`` uses
by default."""


@torch.no_grad()
def segment_features(model: TemporalSegmenter, features: Tensor, window: int) -> Tensor:
    """Class probabilities ``(C, T)`` of MS-TCN++'s last stage for ``(D, T)`` features, in windows of
    ``window`` frames beyond that length (module doc); the model must be in eval mode."""
    num_frames = features.shape[1]
    windows = owned_frames(num_frames, window)
    if len(windows) == 1:
        return torch.softmax(model.temporal(features[None])[-1, 0], dim=0)
    out = features.new_empty(model.tcn.num_classes, num_frames)
    for start, owned in windows:
        frames = torch.from_numpy(owned).to(features.device)
        if len(frames):
            logits = model.temporal(features[None, :, start : start + window])[-1, 0]
            out[:, frames] = torch.softmax(logits[:, frames - start], dim=0)
    return out


def build_segmenter(num_classes: int, spec: SegmenterSpec) -> HeatmapSegmenter:
    """The untrained segmenter ``spec`` describes: with an RGB stream for an :class:`RGBSegmenterSpec`."""
    if isinstance(spec, RGBSegmenterSpec):
        return RGBHeatmapSegmenter(num_classes, spec)
    return heatmap_segmenter(num_classes, spec)


def track_features(
    model: HeatmapSegmenter,
    keypoints: np.ndarray,
    scores: np.ndarray,
    spec: SegmenterSpec,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    rgb_crops: np.ndarray | None = None,
    *,
    boxes: np.ndarray | None = None,
    flip: bool = False,
) -> Tensor:
    """``(D, T)`` encoder features of a track (``(T, 17, 2)`` pixels, ``(T, 17)`` scores), in its
    ``boxes`` (default: the spec's smoothed boxes), mirrored if ``flip``. A model with an RGB
    stream also takes the track's ``rgb_crops`` ``(T, s, s, 3)`` and gives ``(D + R, T)``."""
    model.eval()
    chunks = heatmap_chunks(keypoints, scores, spec, chunk_frames, boxes=boxes, flip=flip)
    features = encode_chunks(model, chunks)
    if not isinstance(model, RGBHeatmapSegmenter):
        return features
    if rgb_crops is None or len(rgb_crops) != features.shape[1]:
        raise ValueError("a segmenter with an RGB stream needs one RGB crop per frame of the track")
    return torch.cat([features, encode_rgb_crops(model, rgb_crops, chunk_frames, flip)])


def segment_track(
    model: HeatmapSegmenter,
    keypoints: np.ndarray,
    scores: np.ndarray,
    spec: SegmenterSpec,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    rgb_crops: np.ndarray | None = None,
    temperature: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Frame labels ``(T,)`` (class indices) and their probabilities ``(T,)`` for one track.

    ``keypoints`` ``(T, 17, 2)`` in frame pixels, ``scores`` ``(T, 17)`` with 0 for a missing joint
    (a frame without the person: all 0). Puts ``model`` in eval mode. The result does not depend on
    ``chunk_frames``, which only bounds memory. ``temperature`` (the card's calibration) softens the
    probabilities, not the labels.
    """
    features = track_features(model, keypoints, scores, spec, chunk_frames, rgb_crops)
    if features.shape[1] == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    probabilities = segment_features(model, features, spec.tcn_window).T.cpu().numpy()
    probabilities = with_temperature(probabilities, temperature)
    return probabilities.argmax(axis=1), probabilities.max(axis=1).astype(np.float32)


def card_temperature(card: dict[str, Any]) -> float:
    """The temperature fitted when the segmenter was trained (1: not calibrated)."""
    return float(card.get("calibration", {}).get("temperature", 1.0))


@torch.no_grad()
def frame_baseline(model: HeatmapSegmenter, features: Tensor) -> np.ndarray:
    """The per-frame baseline's labels ``(T,)``: the frame head's argmax on ``(D, T)`` features."""
    model.eval()
    return model.frame_logits(features.T).argmax(dim=1).cpu().numpy()


def load_segmenter(
    weights: str | Path, device: str = "cpu"
) -> tuple[HeatmapSegmenter, SegmenterSpec, dict[str, Any]]:
    """The verified segmenter in eval mode, its spec and its model card; ``ValueError`` when the
    checkpoint holds another family's model."""
    state, card = load_checkpoint(weights)
    name = card.get("architecture", "?")
    entry = architecture(name)
    if entry.family != SEGMENTER or not issubclass(entry.spec, SegmenterSpec):
        raise ValueError(f"{weights} holds a {entry.family} ({name}), not a {SEGMENTER}")
    spec = entry.spec.from_card(card["clip"])
    model = build_segmenter(len(card["classes"]), spec)
    model.load_state_dict(state)
    return model.to(torch.device(device)).eval(), spec, card
