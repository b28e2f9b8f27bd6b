"""Per-frame joint and limb heatmaps of one track, the action segmenter's input (docs/method.md §6).

A track is ``keypoints`` ``(T, 17, 2)`` (x, y in frame pixels, COCO-17) and ``scores`` ``(T, 17)``
(0 = missing). Every frame is cropped to a square box and rendered on an ``S × S`` grid as the 17
joint and 17 limb maps of docs/method.md §2 (:func:`~posebeam.transforms.heatmaps.render_pose_volume`:
PYSKL's Gaussians, σ in grid pixels, each map scaled by its confidence): float32 ``(T, 34, S, S)``
(frames, channels, rows, columns).

The box is *smoothed over time* (:func:`track_boxes`), not fitted per frame: each frame's square
box around its drawn joints (centre, longer side) is replaced by the running median over a centred
window of ``box_window`` frames, then grown by ``box_padding`` (PoseCompact's 0.25). A per-frame
box would rescale and shift the whole skeleton whenever one joint jitters or goes missing, and
would normalise away what a single frame can show of an action: the body rising in a jump or
shrinking as it crouches. One box for the whole track (PoseCompact over a clip) would shrink a
person who walks across the frame to a few pixels. Boxes depend on the keypoints only, so a long
track's boxes are computed once and its frames rendered in chunks of any size
(:func:`heatmap_chunks`) with identical results.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

from posebeam.schemas.layouts import COCO17
from posebeam.transforms.clip_inputs import CardSpec
from posebeam.transforms.heatmaps import EPS, channel_flip_index, flip_heatmaps, render_pose_volume
from posebeam.transforms.pose_transforms import Rng

MIN_HEATMAP_SIZE = 16
"""The encoder halves the grid four times (docs/method.md §6)."""


@dataclass(frozen=True)
class SegmenterSpec(CardSpec):
    """How a track becomes per-frame heatmaps and features; the model card's ``clip`` entry.

    ``heatmap_size``: S, grid side in pixels. ``sigma``: PYSKL's σ in grid pixels. ``box_window``:
    frames of the running median that smooths the crop box (odd). ``box_padding``: the box side grows
    by this fraction. ``base_width``, ``feature_dim``: encoder widths (base, 2·base, 4·base, D).
    ``num_layers_pg``, ``num_layers_r``, ``num_r``, ``num_f_maps``: MS-TCN++'s. ``tcn_window``:
    tracks longer than this many frames are segmented in windows of it, half-overlapping. ``fps``:
    the frame rate of the training tracks; tracks are resampled to it before segmentation.
    """

    heatmap_size: int = 32
    sigma: float = 0.6
    box_window: int = 15
    box_padding: float = 0.25
    base_width: int = 32
    feature_dim: int = 128
    num_layers_pg: int = 11
    num_layers_r: int = 10
    num_r: int = 3
    num_f_maps: int = 64
    tcn_window: int = 512
    fps: float = 15.0

    def __post_init__(self) -> None:
        if self.heatmap_size < MIN_HEATMAP_SIZE:
            raise ValueError(f"heatmap size must be at least {MIN_HEATMAP_SIZE} px, got {self.heatmap_size}")
        if self.box_window < 1 or self.box_window % 2 == 0:
            raise ValueError(f"box window must be an odd number of frames, got {self.box_window}")
        if self.tcn_window < 2:
            raise ValueError(f"TCN window must be at least 2 frames, got {self.tcn_window}")
        if not self.fps > 0:
            raise ValueError(f"the frame rate must be positive, got {self.fps}")

    @property
    def num_channels(self) -> int:
        return COCO17.num_joints + len(COCO17.limbs)

    def boxes(self, keypoints: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """A track's smoothed crop boxes ``(T, 3)`` with this spec's window and padding
        (:func:`track_boxes`)."""
        return track_boxes(keypoints, scores, window=self.box_window, padding=self.box_padding)


FLIP_CHANNELS = channel_flip_index(COCO17.flip_index(), COCO17.limbs, with_joints=True)
"""The channel permutation that mirrors a joint + limb volume."""


def track_boxes(
    keypoints: np.ndarray,
    scores: np.ndarray,
    *,
    window: int = 15,
    padding: float = 0.25,
    min_side: float = 10.0,
    eps: float = EPS,
) -> np.ndarray:
    """Square crop boxes ``(T, 3)`` float64: left x, top y and side, in frame pixels.

    Per frame: the centre and longer side of the extent of the joints the renderer draws (score ≥
    ``eps``, finite). Frames without such a joint take their values from the nearest frames that
    have one (linear interpolation, held at the ends). Then each of centre x, centre y and side is
    the median over a centred ``window`` (odd; edges repeat the first and last frame), the side is
    at least ``min_side`` (PoseCompact's 10 px threshold) and grows by ``padding``. A track with no
    drawn joint gets boxes of side ``min_side`` at the origin.
    """
    xy = np.asarray(keypoints, dtype=np.float64)
    drawn = (np.asarray(scores) >= eps) & np.isfinite(xy).all(axis=-1)
    seen = drawn.any(axis=1)
    num_frames = len(xy)
    if not seen.any():
        return np.tile([0.0, 0.0, min_side * (1 + padding)], (num_frames, 1))
    lo = np.where(drawn[..., None], xy, np.inf).min(axis=1)[seen]
    hi = np.where(drawn[..., None], xy, -np.inf).max(axis=1)[seen]
    frame = np.arange(num_frames)
    values = [(lo + hi)[:, 0] / 2, (lo + hi)[:, 1] / 2, (hi - lo).max(axis=1)]
    cx, cy, side = (
        median_filter(np.interp(frame, frame[seen], v), size=window, mode="nearest") for v in values
    )
    side = np.maximum(side, min_side) * (1 + padding)
    return np.stack([cx - side / 2, cy - side / 2, side], axis=1)


def crop_heatmaps(
    keypoints: np.ndarray, scores: np.ndarray, boxes: np.ndarray, size: int, *, sigma: float = 0.6
) -> np.ndarray:
    """float32 ``(T, 34, size, size)``: frame t's joints mapped from ``boxes[t]`` (left, top, side)
    onto the grid, ``x' = (x − left) · size / side``, and drawn as joint and limb maps."""
    boxes = np.asarray(boxes, dtype=np.float64)
    grid = (np.asarray(keypoints, dtype=np.float64) - boxes[:, None, :2]) * (size / boxes[:, None, 2:3])
    return render_pose_volume(grid[:, None], np.asarray(scores)[:, None], size, size, sigma=sigma)


def heatmap_chunks(
    keypoints: np.ndarray,
    scores: np.ndarray,
    spec: SegmenterSpec,
    chunk_frames: int,
    *,
    boxes: np.ndarray | None = None,
    flip: bool = False,
) -> Iterator[np.ndarray]:
    """A track's heatmaps ``(n, 34, S, S)``, ``chunk_frames`` frames at a time, in order.

    ``boxes`` default to :func:`track_boxes` of the whole track with the spec's window and padding,
    so the chunks concatenate to the same volume whatever their size. ``flip`` mirrors every frame
    (x → S−1−x, left and right channels swapped).
    """
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be positive, got {chunk_frames}")
    if boxes is None:
        boxes = spec.boxes(keypoints, scores)
    for start in range(0, len(keypoints), chunk_frames):
        part = slice(start, start + chunk_frames)
        volume = crop_heatmaps(
            keypoints[part], scores[part], boxes[part], spec.heatmap_size, sigma=spec.sigma
        )
        yield flip_heatmaps(volume, FLIP_CHANNELS) if flip else volume


def track_heatmaps(keypoints: np.ndarray, scores: np.ndarray, spec: SegmenterSpec) -> np.ndarray:
    """The whole track's heatmaps, float32 ``(T, 34, S, S)``."""
    size = spec.heatmap_size
    chunks = list(heatmap_chunks(keypoints, scores, spec, max(len(keypoints), 1)))
    return np.concatenate(chunks) if chunks else np.zeros((0, spec.num_channels, size, size), np.float32)


def drop_keypoints(scores: np.ndarray, rng: Rng, *, max_joint_p: float, frame_p: float) -> np.ndarray:
    """A copy of ``(T, K)`` scores with missing keypoints simulated (training augmentation).

    A rate ``p ~ U(0, max_joint_p)`` is drawn once for the track; each joint of each frame is then
    dropped (score 0) with probability ``p``, and each whole frame with probability ``frame_p``.
    """
    scores = np.array(scores, dtype=np.float32, copy=True)
    rate = rng.uniform(0.0, max_joint_p) if max_joint_p > 0 else 0.0
    scores[rng.random(scores.shape) < rate] = 0.0
    scores[rng.random(len(scores)) < frame_p] = 0.0
    return scores
