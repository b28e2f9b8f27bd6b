"""Keypoint-level PYSKL/mmaction augmentations as pure functions (docs/method.md §3).

Keypoints are float arrays ``(..., K, 2)`` of x, y in pixels (x to the right, y down), usually
``(T, M, K, 2)``; scores ``(..., K)``. As in PYSKL, a coordinate equal to 0 means "missing": the
compact box ignores it and shifts and flips leave it at 0. Image shapes are ``(height, width)`` in
pixels. Every function returns new arrays and leaves its inputs untouched. Random functions take
an ``rng`` (``np.random.Generator`` or ``np.random.RandomState``) instead of using numpy's global
state; a ``RandomState`` reproduces PYSKL's draws after ``np.random.seed`` with the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

Rng = np.random.Generator | np.random.RandomState


class Crop(NamedTuple):
    """Result of a crop: shifted keypoints, the new ``(height, width)`` and the crop box.

    ``box`` is ``(x1, y1, x2, y2)`` in integer pixels of the input image; it may extend past the
    image (implicit padding). ``img_shape == (y2 - y1, x2 - x1)``.
    """

    keypoints: np.ndarray
    img_shape: tuple[int, int]
    box: tuple[int, int, int, int]


def _pair(value: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(value, tuple):
        return value
    return float(value), float(value)


def _float_copy(keypoints: np.ndarray) -> np.ndarray:
    keypoints = np.array(keypoints, copy=True)
    return keypoints if np.issubdtype(keypoints.dtype, np.floating) else keypoints.astype(np.float32)


def _shift_nonzero(keypoints: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Subtract ``(dx, dy)`` from the non-zero x and y coordinates of a copy of ``keypoints``."""
    out = _float_copy(keypoints)
    x, y = out[..., 0], out[..., 1]
    x[x != 0] -= dx
    y[y != 0] -= dy
    return out


def pose_compact(
    keypoints: np.ndarray,
    img_shape: tuple[int, int],
    *,
    padding: float = 0.25,
    threshold: float = 10,
    hw_ratio: float | tuple[float, float] | None = (1.0, 1.0),
    allow_imgpad: bool = True,
) -> Crop:
    """PYSKL ``PoseCompact``: crop to the padded box around every non-zero keypoint (§2.2).

    Inputs: ``keypoints`` ``(..., K, 2)`` pixels (NaN counts as missing), ``img_shape``
    ``(h, w)``. The box spans the min/max of the non-zero x and, separately, y values over all
    persons, frames and joints; its half-extents grow by ``1 + padding`` around a fixed centre;
    ``hw_ratio = (r0, r1)`` then sets ``half_h = max(r0·half_w, half_h)``,
    ``half_w = max(half_h / r1, half_w)`` (a float r means ``(r, r)``; 1 gives a square; None
    skips it). Corners are ``int()``-truncated and may leave the image when ``allow_imgpad``;
    otherwise they are clipped to ``[0, w] × [0, h]``.

    Outputs: keypoints with non-zero coordinates shifted by the box's top-left corner, the new
    ``img_shape`` ``(y2 - y1, x2 - x1)``, and the box. When the tight box is narrower or lower
    than ``threshold`` px nothing changes (box = the whole image). The box in PYSKL's
    ``crop_quadruple`` form is ``(x1 / w, y1 / h, (x2 - x1) / w, (y2 - y1) / h)``.
    """
    h, w = img_shape
    kp = _float_copy(keypoints)
    kp[np.isnan(kp)] = 0
    kp_x, kp_y = kp[..., 0], kp[..., 1]
    # Same expressions as PYSKL, on numpy scalars of the keypoints' dtype.
    min_x = np.min(kp_x[kp_x != 0], initial=np.inf)
    min_y = np.min(kp_y[kp_y != 0], initial=np.inf)
    max_x = np.max(kp_x[kp_x != 0], initial=-np.inf)
    max_y = np.max(kp_y[kp_y != 0], initial=-np.inf)
    if max_x - min_x < threshold or max_y - min_y < threshold:
        return Crop(kp, (h, w), (0, 0, w, h))
    center = ((max_x + min_x) / 2, (max_y + min_y) / 2)
    half_width = (max_x - min_x) / 2 * (1 + padding)
    half_height = (max_y - min_y) / 2 * (1 + padding)
    if hw_ratio is not None:
        r0, r1 = _pair(hw_ratio)
        half_height = max(r0 * half_width, half_height)
        half_width = max(1 / r1 * half_height, half_width)
    x1, x2 = center[0] - half_width, center[0] + half_width
    y1, y2 = center[1] - half_height, center[1] + half_height
    if allow_imgpad:
        box = (int(x1), int(y1), int(x2), int(y2))
    else:
        box = (int(max(0, x1)), int(max(0, y1)), int(min(w, x2)), int(min(h, y2)))
    kp_x[kp_x != 0] -= box[0]
    kp_y[kp_y != 0] -= box[1]
    return Crop(kp, (box[3] - box[1], box[2] - box[0]), box)


def _clip_indices(
    rng: Rng, num_frames: int, clip_len: int, clip: int, num_clips: int, test_mode: bool
) -> np.ndarray:
    """One clip of PYSKL's UniformSampleFrames on a ``num_frames``-frame window (before ``mod``)."""
    integers = rng.integers if isinstance(rng, np.random.Generator) else rng.randint
    if num_frames < clip_len:
        if test_mode:
            start = clip if num_frames < num_clips else clip * num_frames // num_clips
        else:
            start = int(integers(0, num_frames))
        return np.arange(start, start + clip_len)
    if num_frames < 2 * clip_len:
        # Insert num_frames - clip_len one-frame gaps into the clip_len + 1 slots around frames.
        gaps = np.zeros(clip_len + 1, dtype=np.int64)
        gaps[rng.choice(clip_len + 1, num_frames - clip_len, replace=False)] = 1
        return np.arange(clip_len) + np.cumsum(gaps)[:-1]
    bins = np.array([i * num_frames // clip_len for i in range(clip_len + 1)])
    return bins[:clip_len] + integers(np.diff(bins))


def uniform_sample_frames(
    num_frames: int,
    clip_len: int,
    *,
    num_clips: int = 1,
    test_mode: bool = False,
    seed: int = 255,
    rng: Rng | None = None,
    p_interval: float | tuple[float, float] = 1.0,
) -> np.ndarray:
    """PYSKL ``UniformSampleFrames``: frame indices of ``num_clips`` clips of ``clip_len`` (§2.3).

    Inputs: ``num_frames`` n ≥ 1 of the sequence, ``clip_len`` L. Per clip, with n' = int(ratio·n)
    frames of a window at a random offset (``ratio ~ U(p_interval)``; 1 keeps every frame):

    - n' < L: L consecutive indices from a start (train: random in [0, n'); test: clip i starts at
      i if n' < num_clips, else at i·n'//num_clips), looping through ``mod n``;
    - L ≤ n' < 2L: n' - L of the L + 1 gap slots are chosen without replacement, so indices step
      by 1 or 2 and strictly increase;
    - n' ≥ 2L: one random index inside each bin ``[i·n'//L, (i+1)·n'//L)``.

    Test mode is deterministic: PYSKL calls ``np.random.seed(seed)`` first; here a local
    ``np.random.RandomState(seed)`` makes the same draws without touching numpy's global state
    (``rng`` is then ignored). Train mode draws from ``rng`` (a fresh ``default_rng()`` if None).

    Output: int64 ``(num_clips · clip_len,)`` indices in ``[0, n)`` (PYSKL's ``start_index`` 0).
    """
    if num_frames < 1 or clip_len < 1 or num_clips < 1:
        raise ValueError(
            f"need num_frames, clip_len, num_clips ≥ 1, got {num_frames}, {clip_len}, {num_clips}"
        )
    lo, hi = _pair(p_interval)
    if test_mode:
        rng = np.random.RandomState(seed)
    elif rng is None:
        rng = np.random.default_rng()
    integers = rng.integers if isinstance(rng, np.random.Generator) else rng.randint
    clips = []
    for clip in range(num_clips):
        window = int((rng.random() * (hi - lo) + lo) * num_frames)
        offset = int(integers(num_frames - window + 1))
        clips.append(_clip_indices(rng, window, clip_len, clip, num_clips, test_mode) + offset)
    return np.mod(np.concatenate(clips), num_frames).astype(np.int64)


def flip_keypoints(
    keypoints: np.ndarray, scores: np.ndarray | None, width: float, flip_index: Sequence[int]
) -> tuple[np.ndarray, np.ndarray | None]:
    """PYSKL ``Flip`` on keypoints (§2.4): x → width - x on non-zero x, left and right swapped.

    Inputs: ``keypoints`` ``(..., K, 2)``, ``scores`` ``(..., K)`` or None, the image ``width``
    in pixels and ``flip_index`` (``Layout.flip_index()``: the joint that lands on each index).
    Outputs: new keypoints and scores. Zero x stays 0 (missing). Heatmap flips
    (:func:`posebeam.transforms.heatmaps.flip_heatmaps`) map pixel x → W - 1 - x instead.
    """
    out = _float_copy(keypoints)
    x = out[..., 0]
    x[x != 0] = width - x[x != 0]
    order = list(flip_index)
    flipped_scores = None if scores is None else np.asarray(scores)[..., order].copy()
    return out[..., order, :], flipped_scores


def resize_keypoints(
    keypoints: np.ndarray, img_shape: tuple[int, int], new_shape: tuple[int, int]
) -> np.ndarray:
    """mmaction/PYSKL ``Resize`` on keypoints: scale x by new_w / w and y by new_h / h.

    Inputs: ``keypoints`` ``(..., K, 2)``, shapes ``(h, w)`` → ``(new_h, new_w)``. As in PYSKL the
    factors are float32; zero (missing) coordinates stay 0. Output: new keypoints.
    """
    (h, w), (new_h, new_w) = img_shape, new_shape
    factor = np.array([new_w / w, new_h / h], dtype=np.float32)
    return _float_copy(keypoints) * factor


def short_side_shape(img_shape: tuple[int, int], short_side: int) -> tuple[int, int]:
    """``(h, w)`` after a keep-ratio resize to ``short_side`` (mmcv ``rescale_size(scale=(inf, s))``).

    ``Resize(scale=(-1, 64))`` in the PYSKL train pipeline; sides are rounded as ``int(v·s + 0.5)``.
    """
    h, w = img_shape
    scale = short_side / min(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


def random_resized_crop(
    keypoints: np.ndarray,
    img_shape: tuple[int, int],
    rng: Rng,
    *,
    area_range: tuple[float, float] = (0.56, 1.0),
    aspect_ratio_range: tuple[float, float] = (3 / 4, 4 / 3),
    max_attempts: int = 10,
) -> Crop:
    """mmaction/PYSKL ``RandomResizedCrop`` on keypoints (§2.4; the ``Resize`` after it is separate).

    Inputs: ``keypoints`` ``(..., K, 2)``, ``img_shape`` ``(h, w)``, ``rng``. Draws
    ``max_attempts`` aspect ratios (log-uniform) and areas (uniform fraction of h·w) at once; the
    first candidate ``round(sqrt(area·ratio)) × round(sqrt(area/ratio))`` that fits gets a uniform
    integer offset (both ends included); if none fits, the centred square of side ``min(h, w)``.
    Outputs: keypoints with non-zero coordinates shifted by the crop origin, the crop's
    ``(h, w)`` and box. (mmaction subtracts the origin from zero coordinates too; here they stay
    0 so that missing joints stay missing for the flip and the heatmaps.)
    """
    if not 0 < area_range[0] <= area_range[1] <= 1 or not 0 < aspect_ratio_range[0] <= aspect_ratio_range[1]:
        raise ValueError(f"bad ranges: area {area_range}, aspect ratio {aspect_ratio_range}")
    h, w = img_shape
    ratios = np.exp(
        rng.uniform(math.log(aspect_ratio_range[0]), math.log(aspect_ratio_range[1]), max_attempts)
    )
    areas = rng.uniform(*area_range, size=max_attempts) * (h * w)
    crop_w = np.round(np.sqrt(areas * ratios)).astype(np.int32)
    crop_h = np.round(np.sqrt(areas / ratios)).astype(np.int32)
    integers = rng.integers if isinstance(rng, np.random.Generator) else rng.randint
    fits = np.flatnonzero((crop_h <= h) & (crop_w <= w))
    if len(fits):
        cw, ch = int(crop_w[fits[0]]), int(crop_h[fits[0]])
        x1, y1 = int(integers(0, w - cw + 1)), int(integers(0, h - ch + 1))
    else:
        cw = ch = min(h, w)
        x1, y1 = (w - cw) // 2, (h - ch) // 2
    return Crop(_shift_nonzero(keypoints, x1, y1), (ch, cw), (x1, y1, x1 + cw, y1 + ch))
