"""A track's augmented copy with known frame correspondence: the aligner's training pair
(docs/method.md §7).

CASA (github.com/taeinkwon/CASA, ``src/datasets/pennaction.py``) aligns a sequence with an augmented
copy of itself. Its augmentations act on 3D joints; posebeam's act on the 2D keypoints before the
heatmaps are rendered (cheap, and exact about which frame is which), in this order:

1. *temporal crop*: the copy covers a contiguous stretch of ``U(min_crop, 1)`` of the track's frames
   (so the copy's first frame is not the original's: its position in the window tells nothing);
2. *speed change*: the stretch is resampled at a speed factor drawn log-uniformly from ``speed``
   (above 1 faster: fewer frames), each joint linearly interpolated between the two nearest frames
   (where either misses the joint, the nearer frame's value); a copy frame's ``match`` is the nearest
   original frame, as CASA matches by nearest timestamp. With ``speed_knots`` K > 1 the speed
   varies along the stretch: K factors drawn as above at evenly spaced points of the original's
   time, log-linear between them, so the copy may be slow in one part and fast in the next, as
   two executions of a motion are (a uniform change only teaches a constant ratio);
3. *fast* (CASA's frame drop): a fraction ``U(0, max_frame_drop)`` of the resampled frames is
   deleted, the others kept in order;
4. *flip*, with probability ``flip``: x mirrored about the track's centre, left and right joints
   swapped (COCO-17's flip permutation);
5. *affine*: rotation by ``U(−rotation_deg, rotation_deg)``, scale ``U(scale)`` and a shift of up to
   ``shift`` × the track's size in x and y, about the track's centre (the median of its joints);
6. *keypoint dropout*: each present joint of each frame missing (score 0) with probability
   ``joint_drop``;
7. *noise*: Gaussian jitter of ``noise`` × the track's size on every present joint;
8. *body*: each arm and leg segment (upper arm, forearm, thigh, shin; left and
   right alike) lengthened or shortened by a factor ``U(1 − limb_scale, 1 + limb_scale)`` along its
   kinematic chain from the shoulder or hip, as another person's proportions;
9. *aspect*: x scaled by ``exp(U(−aspect, aspect))`` about the track's centre, as
   a camera seeing the body more from the side foreshortens its width.

The track's size is the median over frames of the larger extent of its present joints.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from posebeam.schemas.layouts import COCO17
from posebeam.transforms.clip_inputs import CardSpec
from posebeam.transforms.frame_heatmaps import SegmenterSpec
from posebeam.transforms.heatmaps import EPS


@dataclass(frozen=True)
class AlignerSpec(CardSpec):
    """How a track becomes the aligner's input, and the transformer's sizes; the model card's
    ``clip`` entry. Heatmaps as the segmenter's (``heatmap_size``, ``sigma``, ``box_window``,
    ``box_padding``); ``patch``, ``dim``, ``depth``, ``heads``, ``embedding_dim``: the transformer's;
    ``temporal_radius``: a frame attends to the frames at most this far (0: every frame of the window);
    ``clip_frames``: frames per training window; ``window``: tracks are embedded in windows of this
    many frames, one every quarter window, blended (chosen on validation data, docs/method.md §7);
    ``fps``: the training tracks' frame rate."""

    heatmap_size: int = 32
    sigma: float = 0.6
    box_window: int = 15
    box_padding: float = 0.25
    patch: int = 8
    dim: int = 64
    depth: int = 4
    heads: int = 4
    embedding_dim: int = 64
    temporal_radius: int = 0
    clip_frames: int = 64
    window: int = 96
    fps: float = 15.0

    def __post_init__(self) -> None:
        if self.heatmap_size % self.patch:
            raise ValueError(
                f"the heatmap size {self.heatmap_size} is not a multiple of the patch {self.patch}"
            )
        if self.dim % self.heads:
            raise ValueError(f"{self.heads} heads do not divide the width {self.dim}")

    @property
    def num_channels(self) -> int:
        return COCO17.num_joints + len(COCO17.limbs)

    def heatmaps(self) -> SegmenterSpec:
        """The segmenter spec that renders the same heatmaps (its renderer is shared)."""
        return SegmenterSpec(heatmap_size=self.heatmap_size, sigma=self.sigma, box_window=self.box_window,
                             box_padding=self.box_padding, fps=self.fps)  # fmt: skip


@dataclass(frozen=True)
class AlignmentAugmentation:
    """The copy's augmentations (module doc); ``min_crop=1``, ``speed=(1, 1)``, ``scale=(1, 1)`` and
    zeros everywhere else leave it unchanged. ``position_jitter`` acts in training on both
    sequences: each one's temporal code starts at a random position in ``[0, position_jitter]``,
    drawn independently."""

    position_jitter: int = 192
    min_crop: float = 0.6
    speed: tuple[float, float] = (2 / 3, 1.5)
    speed_knots: int = 1
    max_frame_drop: float = 0.5
    flip: float = 0.0
    rotation_deg: float = 15.0
    scale: tuple[float, float] = (0.9, 1.1)
    shift: float = 0.1
    joint_drop: float = 0.1
    noise: float = 0.02
    limb_scale: float = 0.2
    aspect: float = 0.3


LIMB_CHAINS = ((5, 7, 9), (6, 8, 10), (11, 13, 15), (12, 14, 16))
"""COCO-17's arms and legs from the body out: (shoulder, elbow, wrist) and (hip, knee, ankle)."""


class AugmentedCopy(NamedTuple):
    """``keypoints`` ``(T', 17, 2)``, ``scores`` ``(T', 17)`` and ``match`` ``(T',)``: the original
    frame of each frame of the copy."""

    keypoints: np.ndarray
    scores: np.ndarray
    match: np.ndarray


def track_centre_and_size(keypoints: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, float]:
    """The median of the present joints ``(2,)`` and the median over frames of their larger extent."""
    present = scores >= EPS
    if not present.any():
        return np.zeros(2), 1.0
    centre = np.median(keypoints[present], axis=0)
    lo = np.where(present[..., None], keypoints, np.inf).min(axis=1)
    hi = np.where(present[..., None], keypoints, -np.inf).max(axis=1)
    seen = present.any(axis=1)
    size = float(np.median((hi - lo)[seen].max(axis=1)))
    return centre, max(size, 1.0)


def augmented_copy(
    keypoints: np.ndarray, scores: np.ndarray, rng: np.random.Generator, augmentation: AlignmentAugmentation
) -> AugmentedCopy:
    """One random augmented copy of a track (``(T, 17, 2)`` pixels, ``(T, 17)`` scores; module doc)."""
    a = augmentation
    times = _crop_and_speed(len(keypoints), rng, a)
    xy, score = _resampled(np.asarray(keypoints, dtype=np.float64), np.asarray(scores, np.float32), times)
    num_frames = len(times)
    drop = round(float(rng.uniform(0, a.max_frame_drop)) * num_frames) if a.max_frame_drop > 0 else 0
    drop = min(drop, max(num_frames - 2, 0))
    keep = np.sort(rng.choice(num_frames, num_frames - drop, replace=False))
    xy, score, times = xy[keep], score[keep], times[keep]
    centre, size = track_centre_and_size(xy, score)
    xy = xy - centre
    if rng.random() < a.flip:
        xy = xy[:, COCO17.flip_index()] * np.array([-1.0, 1.0])
        score = score[:, COCO17.flip_index()]
    angle = np.deg2rad(rng.uniform(-a.rotation_deg, a.rotation_deg))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    xy = xy @ rotation.T * rng.uniform(*a.scale) + rng.uniform(-a.shift, a.shift, 2) * size + centre
    score[rng.random(score.shape) < a.joint_drop] = 0.0
    xy = xy + rng.normal(0.0, a.noise * size, xy.shape) if a.noise > 0 else xy
    if a.limb_scale > 0:
        xy = limbs_scaled(xy, score, rng.uniform(1 - a.limb_scale, 1 + a.limb_scale, (2, 2)))
    if a.aspect > 0:
        xy[..., 0] = centre[0] + (xy[..., 0] - centre[0]) * float(np.exp(rng.uniform(-a.aspect, a.aspect)))
    xy[score < EPS] = 0.0
    return AugmentedCopy(xy.astype(np.float32), score, np.rint(times).astype(np.int64))


def _crop_and_speed(num_frames: int, rng: np.random.Generator, a: AlignmentAugmentation) -> np.ndarray:
    """The copy's frame times in the original's frame numbers (fractional after a speed change)."""
    length = max(min(num_frames, 2), round(float(rng.uniform(min(a.min_crop, 1.0), 1.0)) * num_frames))
    start = int(rng.integers(0, num_frames - length + 1))
    low, high = np.log(a.speed[0]), np.log(a.speed[1])
    if a.speed_knots > 1 and high > low:
        times = start + _varying_speed_times(length, rng.uniform(low, high, a.speed_knots))
    else:
        factor = float(np.exp(rng.uniform(low, high))) if high > low else float(a.speed[0])
        times = start + np.arange(0.0, length - 1 + 1e-9, factor)
    if len(times) < min(length, 2):  # too fast for a short track: keep its frames
        times = start + np.arange(float(length))
    return times


def _varying_speed_times(length: int, log_speeds: np.ndarray, per_frame: int = 8) -> np.ndarray:
    """Times in ``[0, length − 1]`` of a copy whose speed (original frames per copy frame) is
    ``exp(log_speeds)`` at evenly spaced points of the original's time and log-linear between: the
    copy's clock, the integral of 1 / speed over the original's time (trapezoids on a grid of
    ``per_frame`` points per frame), inverted at each whole copy frame."""
    span = length - 1
    if span < 1:
        return np.zeros(max(length, 0))
    grid = np.linspace(0.0, span, span * per_frame + 1)
    speed = np.exp(np.interp(grid, np.linspace(0.0, span, len(log_speeds)), log_speeds))
    clock = np.concatenate([[0.0], np.cumsum(0.5 * (1 / speed[1:] + 1 / speed[:-1]) * np.diff(grid))])
    return np.interp(np.arange(0.0, clock[-1] + 1e-9), clock, grid)


def _resampled(keypoints: np.ndarray, scores: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Joints at fractional ``times``: linear between the two nearest frames where both have the
    joint, else the nearer frame's."""
    lo = np.floor(times).astype(np.int64)
    hi = np.minimum(lo + 1, len(keypoints) - 1)
    w = (times - lo)[:, None]
    nearest = np.where(w[:, 0] < 0.5, lo, hi)
    both = (scores[lo] >= EPS) & (scores[hi] >= EPS)
    xy = np.where(both[..., None], (1 - w[..., None]) * keypoints[lo] + w[..., None] * keypoints[hi],
                  keypoints[nearest])  # fmt: skip
    score = np.where(both, (1 - w) * scores[lo] + w * scores[hi], scores[nearest]).astype(np.float32)
    return xy, score


def limbs_scaled(xy: np.ndarray, scores: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """``xy`` ``(T, 17, 2)`` with each arm's segments scaled by ``factors[0]`` (upper arm, forearm)
    and each leg's by ``factors[1]`` (thigh, shin), joint by joint from the shoulder or hip out; a
    joint whose parent is missing keeps its place, and so moves with nothing."""
    out = xy.copy()
    present = scores >= EPS
    for chain_index, chain in enumerate(LIMB_CHAINS):
        for segment, (parent, child) in enumerate(itertools.pairwise(chain)):
            both = present[:, parent] & present[:, child]
            moved = out[:, parent] + factors[chain_index // 2, segment] * (xy[:, child] - xy[:, parent])
            out[:, child] = np.where(both[:, None], moved, out[:, child])
    return out
