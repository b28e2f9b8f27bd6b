"""PoseConv3D clip inputs: one person's keypoints → heatmap volumes (docs/method.md §3).

Train: UniformSampleFrames → PoseCompact (square, padding 0.25) → resize to short side
``train_size·64/56`` → RandomResizedCrop (area 0.56–1) → resize to ``train_size`` → flip with
p = 0.5 → heatmaps. Test: ``num_clips`` deterministic clips → PoseCompact → resize to ``test_size``
→ heatmaps, plus the mirrored copy of each (PYSKL ``double=True``). Volumes are float32
``(C, T, H, W)`` (channels, frames, rows, columns), the layout the 3D CNNs take.

Input keypoints are ``(T, K, 2)`` pixels and scores ``(T, K)`` of one person; a joint with score
0 is missing and its coordinates are zeroed first, as PYSKL expects (0 = missing).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Self

import numpy as np

from posebeam.schemas.layouts import COCO17
from posebeam.transforms.heatmaps import channel_flip_index, flip_heatmaps, render_heatmaps
from posebeam.transforms.pose_transforms import (
    Rng,
    flip_keypoints,
    pose_compact,
    random_resized_crop,
    resize_keypoints,
    short_side_shape,
    uniform_sample_frames,
)


@dataclass(frozen=True)
class CardSpec:
    """A frozen input spec kept as the model card's ``clip`` entry: its fields plus ``num_channels``
    (the pose channels the model takes). The one place a spec becomes card JSON and back."""

    @property
    def num_channels(self) -> int:
        raise NotImplementedError

    def to_card(self) -> dict[str, Any]:
        """The model card's ``clip`` entry: these fields plus ``num_channels``."""
        return {**asdict(self), "num_channels": self.num_channels}

    @classmethod
    def from_card(cls, clip: dict[str, Any]) -> Self:
        return cls(**{k: v for k, v in clip.items() if k != "num_channels"})


@dataclass(frozen=True)
class ClipSpec(CardSpec):
    """How a clip becomes a volume; stored in the model card so inference matches training.

    ``channels``: ``"joints"`` (C = 17) or ``"limbs"`` (C = 17 limbs of the PYSKL skeleton).
    """

    clip_len: int = 48
    train_size: int = 56
    test_size: int = 64
    sigma: float = 0.6
    channels: str = "joints"

    @property
    def num_channels(self) -> int:
        return COCO17.num_joints if self.channels == "joints" else len(COCO17.limbs)


def _limbs(spec: ClipSpec) -> tuple[tuple[int, int], ...] | None:
    return None if spec.channels == "joints" else COCO17.limbs


def zero_missing(keypoints: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 copies with the coordinates of joints scoring ≤ 0 set to 0 (PYSKL's "missing")."""
    keypoints = np.asarray(keypoints, dtype=np.float32).copy()
    scores = np.asarray(scores, dtype=np.float32)
    keypoints[scores <= 0] = 0.0
    return keypoints, scores


def flip_coco17(keypoints: np.ndarray, scores: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """PYSKL ``Flip`` of COCO-17 keypoints ``(..., 17, 2)`` and scores ``(..., 17)`` in a ``width``-px
    frame: x → width - x, left and right joints swapped."""
    flipped, flipped_scores = flip_keypoints(keypoints, scores, width, COCO17.flip_index())
    assert flipped_scores is not None
    return flipped, flipped_scores


def _render(keypoints: np.ndarray, scores: np.ndarray, size: int, spec: ClipSpec) -> np.ndarray:
    volume = render_heatmaps(
        keypoints[:, None], scores[:, None], size, size, sigma=spec.sigma, limbs=_limbs(spec)
    )
    return volume.transpose(1, 0, 2, 3)  # (T, C, H, W) → (C, T, H, W)


def _original_shape(keypoints: np.ndarray) -> tuple[int, int]:
    """A frame shape that contains every point (PoseCompact only uses it when the box is tiny)."""
    extent = keypoints.reshape(-1, 2).max(axis=0) if keypoints.size else np.zeros(2)
    return int(extent[1]) + 1, int(extent[0]) + 1


def train_volume(keypoints: np.ndarray, scores: np.ndarray, spec: ClipSpec, rng: Rng) -> np.ndarray:
    """One augmented training volume ``(C, clip_len, train_size, train_size)``."""
    keypoints, scores = zero_missing(keypoints, scores)
    index = uniform_sample_frames(len(keypoints), spec.clip_len, rng=rng)
    keypoints, scores = keypoints[index], scores[index]
    crop = pose_compact(keypoints, _original_shape(keypoints))
    shape = short_side_shape(crop.img_shape, round(spec.train_size * 64 / 56))
    keypoints = resize_keypoints(crop.keypoints, crop.img_shape, shape)
    crop = random_resized_crop(keypoints, shape, rng)
    keypoints = resize_keypoints(crop.keypoints, crop.img_shape, (spec.train_size, spec.train_size))
    if rng.random() < 0.5:
        keypoints, scores = flip_coco17(keypoints, scores, spec.train_size)
    return _render(keypoints, scores, spec.train_size, spec)


def eval_views(
    keypoints: np.ndarray, scores: np.ndarray, spec: ClipSpec, *, num_clips: int = 10, flip: bool = True
) -> np.ndarray:
    """Test views ``(num_clips · (1 + flip), C, clip_len, test_size, test_size)``, deterministic."""
    keypoints, scores = zero_missing(keypoints, scores)
    crop = pose_compact(keypoints, _original_shape(keypoints))
    size = (spec.test_size, spec.test_size)
    keypoints = resize_keypoints(crop.keypoints, crop.img_shape, size)
    index = uniform_sample_frames(len(keypoints), spec.clip_len, num_clips=num_clips, test_mode=True)
    views = []
    channel_flip = channel_flip_index(COCO17.flip_index(), limbs=_limbs(spec)) if flip else None
    for clip in index.reshape(num_clips, spec.clip_len):
        volume = _render(keypoints[clip], scores[clip], spec.test_size, spec)
        views.append(volume)
        if channel_flip is not None:
            mirrored = flip_heatmaps(volume.transpose(1, 0, 2, 3), channel_flip)
            views.append(mirrored.transpose(1, 0, 2, 3))
    return np.stack(views)
