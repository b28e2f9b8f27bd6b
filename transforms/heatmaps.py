"""Pseudo-heatmaps from keypoints, with PYSKL's ``GeneratePoseTarget`` semantics (docs/method.md §2).

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

How: a compiled kernel (numba) takes every joint and limb to draw (a joint is a segment of length
0) and walks its window row by row, writing the squared distance of every pixel of the row's
span; numpy takes one vectorised ``exp`` over all of them; a second compiled loop max-merges the
rows, times their peaks, into the volume. A limb's span on a row is the band within
``σ·sqrt(2·ln(1/cutoff))`` of its line (the whole window row when ``cutoff`` is 0); joints always
use the whole window. Non-finite coordinates are skipped (PYSKL would raise). PYSKL's
``scaling`` is left to the caller: scale the keypoints and the grid.
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

# Fast-math flags without nnan/ninf: the kernel tests coordinates for NaN and inf, the band for inf.
_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


@numba.njit(cache=True, nogil=True)
def _window(lo: float, hi: float, three_sigma: float, size: int) -> tuple[int, int]:
    """PYSKL's window ``[max(int(lo - 3σ), 0), min(int(hi + 3σ) + 1, size))``, empty if reversed.

    ``lo - three_sigma`` is computed in the coordinates' dtype (float32 stays float32), as in
    PYSKL; huge values are clipped before ``int`` truncates toward zero.
    """
    start = max(int(min(max(lo - three_sigma, -_TRUNC_LIMIT), _TRUNC_LIMIT)), 0)
    end = min(int(min(max(hi + three_sigma, -_TRUNC_LIMIT), _TRUNC_LIMIT)) + 1, size)
    return start, max(end, start)


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _trace_rows(
    first: int,
    keypoints: np.ndarray,
    scores: np.ndarray,
    limbs: np.ndarray,
    with_joints: bool,
    eps: float,
    three_sigma: float,
    shape: tuple[int, int, int],
    band2: float,
    row_start: np.ndarray,
    row_length: np.ndarray,
    row_peak: np.ndarray,
    d2: np.ndarray,
) -> tuple[int, int, int]:
    """Squared distances to each item's segment over its window rows, items ``first``, ….

    Items are numbered ``(frame · M + person) · C + channel`` over ``keypoints`` ``(T, M, K, 2)``
    and the ``shape`` ``(C, H, W)`` of a frame's volume; a joint is a segment of length 0, a limb
    shorter than 1 px is joint a with score a. For each non-empty row span, ``row_start`` gets the
    flat index of its first pixel in the ``(T, C, H, W)`` volume, ``row_length`` its length and
    ``row_peak`` the item's peak; ``d2`` gets one value per pixel, rows back to back. A segment
    with a vertical extent is evaluated only where the distance to its line may be below
    ``sqrt(band2)``. Stops before the first item that might not fit in the buffers; returns
    ``(next item, rows, pixels)``.
    """
    num_persons, num_joints = keypoints.shape[1], keypoints.shape[2]
    num_channels, height, width = shape
    first_limb = num_joints if with_joints else 0
    rows = pixels = 0
    for item in range(first, keypoints.shape[0] * num_persons * num_channels):
        frame_person, channel = divmod(item, num_channels)
        t, m = divmod(frame_person, num_persons)
        if channel < first_limb:
            ja = jb = channel
            peak = scores[t, m, ja]
        else:
            ja, jb = limbs[channel - first_limb, 0], limbs[channel - first_limb, 1]
            peak = min(scores[t, m, ja], scores[t, m, jb])
        ax, ay, bx, by = (
            keypoints[t, m, ja, 0],
            keypoints[t, m, ja, 1],
            keypoints[t, m, jb, 0],
            keypoints[t, m, jb, 1],
        )
        if not (
            peak >= eps
            and math.isfinite(ax)
            and math.isfinite(ay)
            and math.isfinite(bx)
            and math.isfinite(by)
        ):
            continue
        if ja != jb and (ax - bx) ** 2 + (ay - by) ** 2 < 1:  # PYSKL draws it as joint a
            bx, by, peak = ax, ay, scores[t, m, ja]
        st_x, ed_x = _window(min(ax, bx), max(ax, bx), three_sigma, width)
        st_y, ed_y = _window(min(ay, by), max(ay, by), three_sigma, height)
        if rows + (ed_y - st_y) > len(row_start) or pixels + (ed_y - st_y) * (ed_x - st_x) > len(d2):
            return item, rows, pixels
        offset = (t * num_channels + channel) * height * width
        x0, y0 = np.float64(ax), np.float64(ay)  # distances in float64 (float() keeps float32)
        vx, vy = np.float64(bx) - x0, np.float64(by) - y0
        length2 = vx * vx + vy * vy
        inv_length2 = 1.0 / length2 if length2 > 0 else 0.0
        banded = vy != 0.0 and band2 < math.inf
        half = math.sqrt(band2 * length2) / abs(vy) if banded else 0.0
        for j in range(st_y, ed_y):
            dy = j - y0
            lo, hi = st_x, ed_x
            if banded:  # the span of the row within the band around the line, clamped
                centre = x0 + dy * vx / vy  # before ceil/floor turn it into int64 (a nearly
                lo = math.ceil(min(max(centre - half, st_x), ed_x))  # flat limb has a huge half)
                hi = math.floor(min(max(centre + half, st_x - 1), ed_x - 1)) + 1
            if hi <= lo:
                continue
            along = dy * vy
            for q in range(hi - lo):
                dx = lo + q - x0
                s = min(max((dx * vx + along) * inv_length2, 0.0), 1.0)  # nearest point a + s·v
                ex, ey = dx - s * vx, dy - s * vy
                d2[pixels + q] = ex * ex + ey * ey
            row_start[rows] = offset + j * width + lo
            row_length[rows] = hi - lo
            row_peak[rows] = peak
            rows += 1
            pixels += hi - lo
    return keypoints.shape[0] * num_persons * num_channels, rows, pixels


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _merge_rows(
    flat: np.ndarray,
    row_start: np.ndarray,
    row_length: np.ndarray,
    row_peak: np.ndarray,
    gauss: np.ndarray,
    rows: int,
) -> None:
    """``flat[row pixels] = max(flat[row pixels], gauss[...] · peak)`` for the first ``rows``."""
    p = 0
    for r in range(rows):
        start, value = row_start[r], row_peak[r]
        for q in range(row_length[r]):
            flat[start + q] = max(flat[start + q], gauss[p + q] * value)
        p += row_length[r]


_SCRATCH = threading.local()


def _scratch(pixels: int, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """This thread's row and pixel buffers, grown on demand and reused: fresh buffers would cost
    page faults on every call (Beam runs bundles on several threads, hence one set per thread)."""
    buffers = getattr(_SCRATCH, "buffers", None)
    if buffers is None or len(buffers[3]) < pixels or len(buffers[0]) < rows:
        buffers = (np.empty(rows, np.int64), np.empty(rows, np.int64), np.empty(rows, np.float32),
                   np.empty(pixels, np.float32))  # fmt: skip
        _SCRATCH.buffers = buffers
    return buffers


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
        with_joints: put the K joint maps before the limb maps (C = K + L, docs/method.md §2);
            defaults to ``limbs is None``.
        eps: points and limbs scoring below it are skipped (PYSKL's EPS).
        cutoff: limb pixels whose Gaussian factor ``exp(-d²/2σ²)`` is below it are left at 0, so
            that only a band of ``σ·sqrt(2·ln(1/cutoff))`` px around each limb is evaluated (3.15 px
            for σ = 0.6 and the default 1e-6): limb maps then differ from PYSKL's by at most
            ``cutoff · score``. 0 evaluates PYSKL's whole window. Joint maps are always complete.

    Returns:
        float32 ``(T, C, height, width)``: joint channels, then limb channels.
    """
    keypoints = np.asarray(keypoints)
    if keypoints.dtype not in (np.float32, np.float64):
        keypoints = keypoints.astype(np.float64)
    scores = np.asarray(scores)
    if scores.dtype not in (np.float32, np.float64):
        scores = scores.astype(np.float64)
    keypoints, scores = np.ascontiguousarray(keypoints), np.ascontiguousarray(scores)
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
    capacity = max(_PIXELS_PER_PASS, height * width)
    row_start, row_length, row_peak, d2 = _scratch(capacity, capacity // 4 + height)
    band2 = 2.0 * sigma**2 * math.log(1.0 / cutoff) if cutoff > 0 else math.inf
    three_sigma = keypoints.dtype.type(3 * sigma)  # PYSKL's window arithmetic keeps the dtype
    scale = np.float32(-0.5 / sigma**2)
    flat, first, total = out.reshape(-1), 0, num_frames * num_persons * num_channels
    while first < total:
        first, rows, pixels = _trace_rows(
            first, keypoints, scores, pairs, with_joints, eps, three_sigma, out.shape[1:], band2,
            row_start, row_length, row_peak, d2,
        )  # fmt: skip
        gauss = d2[:pixels]
        gauss *= scale
        np.exp(gauss, out=gauss)
        _merge_rows(flat, row_start, row_length, row_peak, gauss, rows)
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
    """Joint and limb maps together, float32 ``(T, K + L, H, W)`` (docs/method.md §2).

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
