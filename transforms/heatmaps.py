"""Pseudo-heatmaps from keypoints, with PYSKL's ``GeneratePoseTarget`` semantics (REFERENCE.md §2.1).

Coordinates are pixels of the target grid, x to the right and y down; pixel ``(i, j)`` is column
``i``, row ``j``. Keypoints are ``(T, M, K, 2)`` (frames, persons, joints, xy), scores
``(T, M, K)``; a heatmap volume is float32 ``(T, C, H, W)``: frames, channels, rows, columns.

What is drawn, exactly as PYSKL draws it (σ in pixels, ``int`` truncating toward zero):

- joint: ``score · exp(-((i - x)² + (j - y)²) / (2σ²))`` inside the window
  ``i ∈ [max(int(x - 3σ), 0), min(int(x + 3σ) + 1, W))`` (the same for j, y, H), 0 outside it;
  skipped when ``score < eps``;
- limb ``(a, b)``: ``min(score_a, score_b) · exp(-d² / (2σ²))``, ``d`` the distance to the segment,
  inside the bounding box of a and b grown by the same window rule; skipped when that score is
  below ``eps``; a limb shorter than 1 px (``|ab|² < 1``) is drawn as joint ``a`` with ``score_a``;
- persons are merged into a channel with an elementwise max.

No Python loop runs over frames, persons, joints or limbs: all joint windows are evaluated as one
``(P, P, N)`` array, all limbs as bands along their rows (or columns) in cache-sized blocks, and
everything is max-merged with ``np.maximum.at``. Non-finite coordinates are skipped (PYSKL would
raise). PYSKL's ``scaling`` is left to the caller: scale the keypoints and the grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from posebeam.schemas.layouts import COCO17

EPS = 1e-3
"""PYSKL's threshold: points and limbs scoring below it are not drawn."""

LIMB_CUTOFF = 1e-6
"""Default ``cutoff`` of :func:`render_heatmaps`: limb pixels whose Gaussian factor is below it stay 0."""

_TRUNC_LIMIT = 2.0**30
_ITEMS_PER_CHUNK = 1 << 14  # points + limbs rendered per frame chunk
_BLOCK_PIXELS = 1 << 15  # limb pixels evaluated per block (the scratch arrays stay in cache)


def _trunc(values: np.ndarray) -> np.ndarray:
    """Python's ``int()`` elementwise: truncation toward zero, as int64 (huge values clipped)."""
    return np.trunc(np.clip(values, -_TRUNC_LIMIT, _TRUNC_LIMIT)).astype(np.int64)


def _windows(lo: np.ndarray, hi: np.ndarray, size: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """PYSKL's window ``[max(int(lo - 3σ), 0), min(int(hi + 3σ) + 1, size))`` along one axis.

    ``lo - 3 * sigma`` keeps the coordinates' dtype (float32 stays float32), as in PYSKL.
    """
    return np.maximum(_trunc(lo - 3 * sigma), 0), np.minimum(_trunc(hi + 3 * sigma) + 1, size)


def _draw_points(
    flat: np.ndarray,
    shape: tuple[int, int, int],
    channel: np.ndarray,
    xy: np.ndarray,
    value: np.ndarray,
    sigma: float,
) -> None:
    """Max-merge truncated Gaussians into ``flat``, the raveled ``shape`` = ``(channels, H, W)``.

    ``channel`` (N,) channel of each point, ``xy`` (N, 2) pixels, ``value`` (N,) peaks (≥ eps).
    """
    _, height, width = shape
    x, y = xy[:, 0], xy[:, 1]
    st_x, ed_x = _windows(x, x, width, sigma)
    st_y, ed_y = _windows(y, y, height, sigma)
    keep = (ed_x > st_x) & (ed_y > st_y)
    if not keep.any():
        return
    channel, x, y, value = channel[keep], x[keep], y[keep], value[keep]
    st_x, ed_x, st_y, ed_y = st_x[keep], ed_x[keep], st_y[keep], ed_y[keep]
    offsets = np.arange(max((ed_x - st_x).max(), (ed_y - st_y).max()))[:, None]
    # Arrays are (P, N): numpy's inner loops run over the points. Offsets past a window's end
    # repeat its last pixel: same index, same value, so harmless to the max.
    px = np.minimum(st_x + offsets, ed_x - 1)
    py = np.minimum(st_y + offsets, ed_y - 1)
    scale = np.float32(-0.5 / sigma**2)
    gx = np.exp((px - x).astype(np.float32) ** 2 * scale)
    gy = np.exp((py - y).astype(np.float32) ** 2 * scale) * value.astype(np.float32)
    index = ((channel * height + py) * width)[:, None, :] + px[None, :, :]
    np.maximum.at(flat, index.ravel(), (gy[:, None, :] * gx[None, :, :]).ravel())


def _draw_segments(
    flat: np.ndarray,
    shape: tuple[int, int, int],
    channel: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    value: np.ndarray,
    sigma: float,
    cutoff: float,
) -> None:
    """Max-merge limb maps (distance to segment ``a``–``b``) into ``flat`` (see ``_draw_points``).

    ``a``, ``b`` (N, 2) pixels with ``|ab|² ≥ 1``; ``value`` (N,) peaks (≥ eps). Each limb is walked
    along its major axis, one line (a row for steep limbs, a column otherwise) per step of its
    window; on a line only the band within ``R = σ·sqrt(2·ln(1/cutoff))`` of the infinite line
    through a and b is evaluated (the whole window line when ``cutoff`` is 0). Pixels outside the
    band are farther than R from the segment, so PYSKL's value there is below ``cutoff · value``.
    """
    _, height, width = shape
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    st_x, ed_x = _windows(lo[:, 0], hi[:, 0], width, sigma)
    st_y, ed_y = _windows(lo[:, 1], hi[:, 1], height, sigma)
    keep = (ed_x > st_x) & (ed_y > st_y)
    if not keep.any():
        return
    a = a[keep].astype(np.float64)
    v = b[keep].astype(np.float64) - a
    steep = np.abs(v[:, 1]) >= np.abs(v[:, 0])  # the major axis is y: lines are rows
    a_maj, a_min = np.where(steep, a[:, 1], a[:, 0]), np.where(steep, a[:, 0], a[:, 1])
    v_maj, v_min = np.where(steep, v[:, 1], v[:, 0]), np.where(steep, v[:, 0], v[:, 1])
    st_x, ed_x, st_y, ed_y = st_x[keep], ed_x[keep], st_y[keep], ed_y[keep]
    st_min, ed_min = np.where(steep, st_x, st_y), np.where(steep, ed_x, ed_y)
    st_maj, ed_maj = np.where(steep, st_y, st_x), np.where(steep, ed_y, ed_x)
    inv_length2 = 1.0 / (v_maj**2 + v_min**2)
    slope = v_min / v_maj
    if cutoff > 0:
        radius = sigma * math.sqrt(2.0 * math.log(1.0 / cutoff))
        half = radius * np.sqrt(1.0 + slope**2)  # half-width of the band along a line, ≤ R·√2
        size = np.minimum(np.floor(2 * half).astype(np.int64) + 1, ed_min - st_min)
    else:
        half = np.full(len(a), np.inf)
        size = ed_min - st_min
    # One row of constants per limb (unpacked in _LimbBlock.draw), sorted by band size so that
    # each block is evaluated on a grid just as wide as its limbs need.
    order = np.argsort(size, kind="stable")
    floats = np.stack(
        [
            a_min - half - a_maj * slope,
            slope,
            a_min,
            a_maj,
            v_min * inv_length2,
            v_maj * inv_length2,
            v_min,
            v_maj,
            value[keep],
        ],
        axis=1,
    )[order]
    ints = np.stack(
        [
            st_min,
            ed_min - 1,
            st_maj,
            channel[keep] * (height * width),
            np.where(steep, width, 1),
            np.where(steep, 1, width),
        ],
        axis=1,
    )[order]
    size, counts = size[order], (ed_maj - st_maj)[order]
    lines = np.cumsum(counts)
    first = lines - counts
    pixels = np.cumsum(counts * size)
    splits = np.searchsorted(pixels, np.arange(_BLOCK_PIXELS, pixels[-1], _BLOCK_PIXELS)).tolist()
    bounds = [(i0, i1) for i0, i1 in pairwise([0, *splits, len(counts)]) if i1 > i0]
    block_lines = [int(lines[i1 - 1] - first[i0]) for i0, i1 in bounds]
    block_pixels = [n * int(size[i1 - 1]) for n, (_, i1) in zip(block_lines, bounds, strict=True)]
    block = _LimbBlock(max(block_pixels), max(block_lines), int(size[-1]), sigma)
    for i0, i1 in bounds:
        block.draw(flat, floats, ints, np.repeat(np.arange(i0, i1), counts[i0:i1]), first, int(size[i1 - 1]))


class _LimbBlock:
    """Scratch arrays for one block of limb lines, allocated once and reused by every block.

    Fresh large temporaries would cost page faults on every block.
    """

    def __init__(self, pixels: int, lines: int, size: int, sigma: float) -> None:
        self.floats = np.empty((lines, 9))
        self.ints = np.empty((lines, 6), np.int64)
        self.index = np.empty(pixels, np.int64)
        self.u, self.t, self.d = (np.empty(pixels, np.float32) for _ in range(3))
        self.offsets = np.arange(size)[:, None]
        self.offsets_f32 = np.arange(size, dtype=np.float32)[:, None]
        self.scale = np.float32(-0.5 / sigma**2)

    def draw(
        self,
        flat: np.ndarray,
        floats: np.ndarray,
        ints: np.ndarray,
        owner: np.ndarray,
        first: np.ndarray,
        size: int,
    ) -> None:
        """Evaluate the lines of limbs ``owner`` on a ``(size, lines)`` grid; max-merge into ``flat``.

        ``floats``/``ints`` are the per-limb rows of ``_draw_segments``, ``first`` the index of each
        limb's first line in the running line count. Numpy's inner loops run over the lines.
        """
        n, f32 = owner.size, np.float32
        f = np.take(floats, owner, axis=0, out=self.floats[:n], mode="clip").T
        i = np.take(ints, owner, axis=0, out=self.ints[:n], mode="clip").T
        c_start, slope, a_min, a_maj, t_min, t_maj, v_min, v_maj, peak = f
        st_min, last, st_maj, channel_base, line_stride, pixel_stride = i
        line = np.arange(first[owner[0]], first[owner[0]] + n) - first[owner] + st_maj
        u_maj = line - a_maj  # major offset from a
        start = np.maximum(np.ceil(c_start + line * slope), st_min)  # first pixel of the band
        shape = (size, n)
        index = self.index[: size * n].reshape(shape)
        u, t, d = (scratch[: size * n].reshape(shape) for scratch in (self.u, self.t, self.d))
        # Pixels past the window's end repeat its last pixel: same index, same value.
        line_base = channel_base + line * line_stride
        pixel_stride = np.ascontiguousarray(pixel_stride)
        np.multiply(self.offsets[:size], pixel_stride, out=index)
        index += line_base + start.astype(np.int64) * pixel_stride
        np.minimum(index, line_base + last * pixel_stride, out=index)
        np.add(self.offsets_f32[:size], (start - a_min).astype(f32), out=u)  # minor offset from a
        np.minimum(u, (last - a_min).astype(f32), out=u)
        np.multiply(u, t_min.astype(f32), out=t)
        t += (u_maj * t_maj).astype(f32)
        np.clip(t, 0, 1, out=t)  # the nearest point of the segment is a + t·(b - a)
        np.multiply(t, v_maj.astype(f32), out=d)
        np.subtract(u_maj.astype(f32), d, out=d)  # major offset from the nearest point
        t *= v_min.astype(f32)
        u -= t  # minor offset from the nearest point
        u *= u
        d *= d
        u += d
        u *= self.scale
        np.exp(u, out=u)
        u *= peak.astype(f32)
        np.maximum.at(flat, index.ravel(), u.ravel())


def _render_chunk(
    out: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    sigma: float,
    with_joints: bool,
    limbs: np.ndarray,
    eps: float,
    cutoff: float,
) -> None:
    """Render keypoints ``(T, M, K, 2)`` and scores ``(T, M, K)`` into the zeroed ``out`` ``(T, C, H, W)``."""
    num_frames, num_persons, num_joints, _ = keypoints.shape
    num_channels, height, width = out.shape[1:]
    shape = (num_frames * num_channels, height, width)
    flat = out.reshape(-1)
    frame_base = (np.arange(num_frames) * num_channels)[:, None, None]
    finite = np.isfinite(keypoints).all(axis=-1)
    channels, points, peaks = [], [], []
    if with_joints:
        drawn = (scores >= eps) & finite
        channels.append(np.broadcast_to(frame_base + np.arange(num_joints), scores.shape)[drawn])
        points.append(keypoints[drawn])
        peaks.append(scores[drawn])
    if len(limbs):
        first_limb = num_joints if with_joints else 0
        channel = np.broadcast_to(
            frame_base + first_limb + np.arange(len(limbs)), (num_frames, num_persons, len(limbs))
        )
        a, b = keypoints[:, :, limbs[:, 0]], keypoints[:, :, limbs[:, 1]]
        score_a = scores[:, :, limbs[:, 0]]
        value = np.minimum(score_a, scores[:, :, limbs[:, 1]])
        drawn = (value >= eps) & finite[:, :, limbs[:, 0]] & finite[:, :, limbs[:, 1]]
        short = drawn & ((a[..., 0] - b[..., 0]) ** 2 + (a[..., 1] - b[..., 1]) ** 2 < 1)
        channels.append(channel[short])  # PYSKL draws a limb shorter than 1 px as joint a
        points.append(a[short])
        peaks.append(score_a[short])
        long = drawn & ~short
        if long.any():
            _draw_segments(flat, shape, channel[long], a[long], b[long], value[long], sigma, cutoff)
    if channels and sum(len(c) for c in channels):
        _draw_points(
            flat, shape, np.concatenate(channels), np.concatenate(points), np.concatenate(peaks), sigma
        )


def render_heatmaps(
    keypoints: np.ndarray,
    scores: np.ndarray,
    height: int,
    width: int,
    *,
    sigma: float = 0.6,
    limbs: Sequence[tuple[int, int]] | None = None,
    with_joints: bool | None = None,
    eps: float = EPS,
    cutoff: float = LIMB_CUTOFF,
) -> np.ndarray:
    """Render joint or limb pseudo-heatmaps, PYSKL ``GeneratePoseTarget`` semantics (module doc).

    Args:
        keypoints: ``(T, M, K, 2)`` x, y in pixels of the ``height`` × ``width`` grid.
        scores: ``(T, M, K)`` confidences, the peak values (pass ones for ``use_score=False``).
        height, width: grid size in pixels.
        sigma: Gaussian σ in pixels (PYSKL: 0.6).
        limbs: ``(a, b)`` joint index pairs. ``None``: joint maps (C = K); a sequence: limb maps
            (C = len(limbs)), e.g. ``COCO17.limbs``.
        with_joints: put the K joint maps before the limb maps (C = K + L, REFERENCE.md §6);
            defaults to ``limbs is None``.
        eps: points and limbs scoring below it are skipped (PYSKL's EPS).
        cutoff: limb pixels whose Gaussian factor ``exp(-d²/2σ²)`` is below it are left at 0, so
            that only a band of ``σ·sqrt(2·ln(1/cutoff))`` px around each limb is evaluated (3.2 px
            for σ = 0.6 and the default 1e-6): limb maps then differ from PYSKL's by at most
            ``cutoff · score``. 0 evaluates PYSKL's whole window. Joint maps are always complete.

    Returns:
        float32 ``(T, C, height, width)``: joint channels, then limb channels.
    """
    keypoints = np.asarray(keypoints)
    if not np.issubdtype(keypoints.dtype, np.floating):
        keypoints = keypoints.astype(np.float64)
    scores = np.asarray(scores)
    if keypoints.ndim != 4 or keypoints.shape[-1] != 2 or scores.shape != keypoints.shape[:3]:
        raise ValueError(
            f"need keypoints (T, M, K, 2) and scores (T, M, K), got {keypoints.shape}, {scores.shape}"
        )
    if not 0 <= cutoff < 1:
        raise ValueError(f"cutoff must lie in [0, 1), got {cutoff}")
    if with_joints is None:
        with_joints = limbs is None
    pairs = np.asarray(limbs if limbs is not None else [], dtype=np.int64).reshape(-1, 2)
    num_frames, num_persons, num_joints, _ = keypoints.shape
    if pairs.size and (pairs.min() < 0 or pairs.max() >= num_joints):
        raise ValueError(f"limb joint indices must lie in [0, {num_joints})")
    num_channels = (num_joints if with_joints else 0) + len(pairs)
    out = np.zeros((num_frames, num_channels, height, width), dtype=np.float32)
    if not (num_persons and num_channels and height > 0 and width > 0):
        return out
    step = max(1, _ITEMS_PER_CHUNK // (num_persons * num_channels))
    for t0 in range(0, num_frames, step):
        t1 = t0 + step
        _render_chunk(out[t0:t1], keypoints[t0:t1], scores[t0:t1], sigma, with_joints, pairs, eps, cutoff)
    return out


def render_pose_volume(
    keypoints: np.ndarray,
    scores: np.ndarray,
    height: int,
    width: int,
    *,
    limbs: Sequence[tuple[int, int]] = COCO17.limbs,
    sigma: float = 0.6,
    eps: float = EPS,
    cutoff: float = LIMB_CUTOFF,
) -> np.ndarray:
    """Joint and limb maps together, float32 ``(T, K + L, H, W)`` (REFERENCE.md §6).

    The same as ``render_heatmaps(..., limbs=limbs, with_joints=True)``; the default limbs are
    PYSKL's COCO-17 skeleton, so COCO-17 input gives 34 channels.
    """
    return render_heatmaps(
        keypoints, scores, height, width, sigma=sigma, limbs=limbs, with_joints=True, eps=eps, cutoff=cutoff
    )


def channel_flip_index(
    flip_index: Sequence[int],
    limbs: Sequence[tuple[int, int]] | None = None,
    *,
    with_joints: bool | None = None,
) -> list[int]:
    """Channel permutation that mirrors a volume rendered with the same ``limbs``/``with_joints``.

    Joint channels follow ``flip_index`` (e.g. ``COCO17.flip_index()``); limb ``(a, b)`` becomes
    the limb joining the flipped joints. For PYSKL's COCO skeleton this gives PYSKL's code
    defaults left_limb=(0, 2, 4, 5, 6, 10, 11, 12), right_limb=(1, 3, 7, 8, 9, 13, 14, 15).
    """
    if with_joints is None:
        with_joints = limbs is None
    position = {frozenset(limb): i for i, limb in enumerate(limbs or ())}
    limb_perm = []
    for a, b in limbs or ():
        mirrored = frozenset((flip_index[a], flip_index[b]))
        if mirrored not in position:
            raise ValueError(f"limb {(a, b)} has no mirror image among the limbs")
        limb_perm.append(position[mirrored])
    joints = list(flip_index) if with_joints else []
    return joints + [len(joints) + i for i in limb_perm]


def flip_heatmaps(volume: np.ndarray, flip_index: Sequence[int]) -> np.ndarray:
    """Mirror a ``(..., C, H, W)`` volume as PYSKL's ``double=True``: x → W-1-x, channels swapped.

    ``flip_index`` is a channel permutation (:func:`channel_flip_index`). PYSKL's test-time volume
    is ``np.concatenate([volume, flip_heatmaps(volume, index)])``. Note that this pixel flip maps
    x → W-1-x while the keypoint flip (:func:`posebeam.transforms.pose_transforms.flip_keypoints`)
    maps x → W-x, as in PYSKL.
    """
    volume = np.asarray(volume)
    return np.ascontiguousarray(volume[..., ::-1][..., list(flip_index), :, :])
