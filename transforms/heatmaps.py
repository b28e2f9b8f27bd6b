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

How: numpy gathers every joint and limb to draw (a joint is a segment of length 0) with its
window; a compiled kernel (numba) walks each item's window row by row and writes the squared
distance of every pixel of the row's span; numpy takes one vectorised ``exp`` over all of them;
a second compiled loop max-merges the rows, times their peaks, into the volume. A limb's span on
a row is the band within ``σ·sqrt(2·ln(1/cutoff))`` of its line (the whole window row when
``cutoff`` is 0); joints always use the whole window. Non-finite coordinates are skipped (PYSKL
would raise). PYSKL's ``scaling`` is left to the caller: scale the keypoints and the grid.
benchmarks/heatmaps.py measures this against a PYSKL-style loop.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import numba
import numpy as np

from posebeam.schemas.layouts import COCO17

EPS = 1e-3
"""PYSKL's threshold: points and limbs scoring below it are not drawn."""

LIMB_CUTOFF = 1e-6
"""Default ``cutoff`` of :func:`render_heatmaps`: limb pixels whose Gaussian factor is below it stay 0."""

_TRUNC_LIMIT = 2.0**30
_PIXELS_PER_PASS = 1 << 20  # squared distances buffered between the kernel and the exp (4 MiB)

# Float flags that keep inf/NaN semantics (the inputs are finite; the band test uses inf).
_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


def _trunc(values: np.ndarray) -> np.ndarray:
    """Python's ``int()`` elementwise: truncation toward zero, as int64 (huge values clipped)."""
    return np.trunc(np.clip(values, -_TRUNC_LIMIT, _TRUNC_LIMIT)).astype(np.int64)


def _windows(lo: np.ndarray, hi: np.ndarray, size: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """PYSKL's window ``[max(int(lo - 3σ), 0), min(int(hi + 3σ) + 1, size))`` along one axis.

    ``lo - 3 * sigma`` keeps the coordinates' dtype (float32 stays float32), as in PYSKL.
    """
    return np.maximum(_trunc(lo - 3 * sigma), 0), np.minimum(_trunc(hi + 3 * sigma) + 1, size)


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _trace_rows(
    first: int,
    a: np.ndarray,
    b: np.ndarray,
    windows: np.ndarray,
    offsets: np.ndarray,
    width: int,
    band2: float,
    row_start: np.ndarray,
    row_length: np.ndarray,
    row_item: np.ndarray,
    d2: np.ndarray,
) -> tuple[int, int, int]:
    """Squared distances to segment ``a[k]``–``b[k]`` over the window rows of items ``first``, ….

    ``windows[k]`` is ``(st_x, ed_x, st_y, ed_y)``, ``offsets[k]`` the flat index of the item's
    channel. For each non-empty row span, ``row_start`` gets the flat index of its first pixel,
    ``row_length`` its length and ``row_item`` the item; ``d2`` gets one value per pixel, rows
    back to back. A segment with ``b[k, 1] != a[k, 1]`` is evaluated only where the distance to its
    line may be below ``sqrt(band2)``. Stops before the first item that might not fit in the
    buffers; returns ``(next item, rows, pixels)``.
    """
    rows = pixels = 0
    for k in range(first, len(a)):
        st_x, ed_x, st_y, ed_y = windows[k]
        if rows + (ed_y - st_y) > len(row_start) or pixels + (ed_y - st_y) * (ed_x - st_x) > len(d2):
            return k, rows, pixels
        ax, ay = a[k, 0], a[k, 1]
        vx, vy = b[k, 0] - ax, b[k, 1] - ay
        length2 = vx * vx + vy * vy
        inv_length2 = 1.0 / length2 if length2 > 0 else 0.0
        banded = vy != 0.0 and band2 < math.inf
        half = math.sqrt(band2 * length2) / abs(vy) if banded else 0.0
        for j in range(st_y, ed_y):
            dy = j - ay
            lo, hi = st_x, ed_x
            if banded:  # the span of the row within the band around the line
                centre = ax + dy * vx / vy
                lo = int(min(max(math.ceil(centre - half), st_x), ed_x))
                hi = int(min(max(math.floor(centre + half) + 1, st_x), ed_x))
            if hi <= lo:
                continue
            along = dy * vy
            for q in range(hi - lo):
                dx = lo + q - ax
                t = min(max((dx * vx + along) * inv_length2, 0.0), 1.0)  # nearest point a + t·v
                ex, ey = dx - t * vx, dy - t * vy
                d2[pixels + q] = ex * ex + ey * ey
            row_start[rows] = offsets[k] + j * width + lo
            row_length[rows] = hi - lo
            row_item[rows] = k
            rows += 1
            pixels += hi - lo
    return len(a), rows, pixels


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _merge_rows(
    flat: np.ndarray,
    row_start: np.ndarray,
    row_length: np.ndarray,
    row_item: np.ndarray,
    peak: np.ndarray,
    gauss: np.ndarray,
    rows: int,
) -> None:
    """``flat[row pixels] = max(flat[row pixels], gauss[...] · peak[item])`` for the first ``rows``."""
    p = 0
    for r in range(rows):
        start, value = row_start[r], peak[row_item[r]]
        for q in range(row_length[r]):
            flat[start + q] = max(flat[start + q], gauss[p + q] * value)
        p += row_length[r]


_SCRATCH = threading.local()


def _scratch(pixels: int, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """This thread's row and pixel buffers, grown on demand and reused: fresh buffers would cost
    page faults on every call (Beam runs bundles on several threads, hence one set per thread)."""
    buffers = getattr(_SCRATCH, "buffers", None)
    if buffers is None or len(buffers[3]) < pixels or len(buffers[0]) < rows:
        row_buffers = [np.empty(rows, np.int64) for _ in range(3)]
        buffers = (*row_buffers, np.empty(pixels, np.float32))
        _SCRATCH.buffers = buffers
    return buffers


def _draw(
    out: np.ndarray,
    offsets: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    peak: np.ndarray,
    sigma: float,
    band2: float,
) -> None:
    """Max-merge segments ``a``–``b`` (``(N, 2)`` pixels, points where equal) into ``out``.

    ``offsets`` (N,) flat index of each item's channel in ``out`` ``(T, C, H, W)``; ``peak`` (N,).
    """
    height, width = out.shape[-2:]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    st_x, ed_x = _windows(lo[:, 0], hi[:, 0], width, sigma)
    st_y, ed_y = _windows(lo[:, 1], hi[:, 1], height, sigma)
    ed_x, ed_y = np.maximum(ed_x, st_x), np.maximum(ed_y, st_y)  # empty windows stay empty
    windows = np.stack([st_x, ed_x, st_y, ed_y], axis=1)
    capacity = max(_PIXELS_PER_PASS, int(((ed_x - st_x) * (ed_y - st_y)).max()))
    row_start, row_length, row_item, d2 = _scratch(capacity, capacity // 4 + height)
    a, b = a.astype(np.float64), b.astype(np.float64)
    peak = peak.astype(np.float32)
    flat = out.reshape(-1)
    scale = np.float32(-0.5 / sigma**2)
    first = 0
    while first < len(a):
        first, rows, pixels = _trace_rows(
            first, a, b, windows, offsets, width, band2, row_start, row_length, row_item, d2
        )
        gauss = d2[:pixels]
        gauss *= scale
        np.exp(gauss, out=gauss)
        _merge_rows(flat, row_start, row_length, row_item, peak, gauss, rows)


def _items(
    keypoints: np.ndarray,
    scores: np.ndarray,
    num_channels: int,
    hw: int,
    with_joints: bool,
    limbs: np.ndarray,
    eps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Everything to draw: channel offsets, segment ends ``a``, ``b`` (equal for joints), peaks."""
    num_frames, num_persons, num_joints, _ = keypoints.shape
    frame_base = (np.arange(num_frames) * num_channels)[:, None, None]
    finite = np.isfinite(keypoints).all(axis=-1)
    channels, starts, ends, peaks = [], [], [], []
    if with_joints:
        drawn = (scores >= eps) & finite
        channels.append(np.broadcast_to(frame_base + np.arange(num_joints), scores.shape)[drawn])
        starts.append(keypoints[drawn])
        ends.append(keypoints[drawn])
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
        long = drawn & ~short
        channels += [channel[short], channel[long]]  # PYSKL draws a limb shorter than 1 px as joint a
        starts += [a[short], a[long]]
        ends += [a[short], b[long]]
        peaks += [score_a[short], value[long]]
    return (
        np.concatenate(channels) * hw,
        np.concatenate(starts),
        np.concatenate(ends),
        np.concatenate(peaks),
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
    offsets, a, b, peak = _items(keypoints, scores, num_channels, height * width, with_joints, pairs, eps)
    if len(a):
        band2 = 2.0 * sigma**2 * math.log(1.0 / cutoff) if cutoff > 0 else math.inf
        _draw(out, offsets, a, b, peak, sigma, band2)
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
