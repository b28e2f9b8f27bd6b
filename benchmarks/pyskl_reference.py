"""Per-point reference loops with PYSKL's semantics, the baseline for tests and benchmarks.

Written the way PYSKL's ``GeneratePoseTarget`` and ``UniformSampleFrames`` compute (docs/method.md
§2, §3.2): one Python loop step per frame, channel and person, each drawing a small numpy patch
into the channel with an elementwise max. Deliberately slow and literal; ``posebeam.transforms``
holds the vectorised versions that must agree with these.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

EPS = 1e-3


def draw_joint(arr: np.ndarray, center: np.ndarray, value: float, sigma: float) -> None:
    """Max-merge one truncated Gaussian at ``center`` (x, y pixels) into ``arr`` ``(H, W)``."""
    if value < EPS:
        return
    img_h, img_w = arr.shape
    mu_x, mu_y = center[0], center[1]
    st_x = max(int(mu_x - 3 * sigma), 0)
    ed_x = min(int(mu_x + 3 * sigma) + 1, img_w)
    st_y = max(int(mu_y - 3 * sigma), 0)
    ed_y = min(int(mu_y + 3 * sigma) + 1, img_h)
    x = np.arange(st_x, ed_x).astype(np.float32)
    y = np.arange(st_y, ed_y).astype(np.float32)
    if not (len(x) and len(y)):
        return
    y = y[:, None]
    patch = np.exp(-((x - mu_x) ** 2 + (y - mu_y) ** 2) / 2 / sigma**2) * value
    arr[st_y:ed_y, st_x:ed_x] = np.maximum(arr[st_y:ed_y, st_x:ed_x], patch)


def draw_limb(
    arr: np.ndarray, start: np.ndarray, end: np.ndarray, start_value: float, end_value: float, sigma: float
) -> None:
    """Max-merge one limb (distance-to-segment Gaussian) into ``arr`` ``(H, W)``."""
    value = min(start_value, end_value)
    if value < EPS:
        return
    img_h, img_w = arr.shape
    min_x = max(int(min(start[0], end[0]) - 3 * sigma), 0)
    max_x = min(int(max(start[0], end[0]) + 3 * sigma) + 1, img_w)
    min_y = max(int(min(start[1], end[1]) - 3 * sigma), 0)
    max_y = min(int(max(start[1], end[1]) + 3 * sigma) + 1, img_h)
    x = np.arange(min_x, max_x).astype(np.float32)
    y = np.arange(min_y, max_y).astype(np.float32)
    if not (len(x) and len(y)):
        return
    y = y[:, None]
    x_0 = np.zeros_like(x)
    y_0 = np.zeros_like(y)
    d2_start = (x - start[0]) ** 2 + (y - start[1]) ** 2
    d2_end = (x - end[0]) ** 2 + (y - end[1]) ** 2
    d2_ab = (start[0] - end[0]) ** 2 + (start[1] - end[1]) ** 2
    if d2_ab < 1:
        draw_joint(arr, start, start_value, sigma)
        return
    coeff = (d2_start - d2_end + d2_ab) / 2.0 / d2_ab
    a_dominate = coeff <= 0
    b_dominate = coeff >= 1
    seg_dominate = 1 - a_dominate - b_dominate
    position = np.stack([x + y_0, y + x_0], axis=-1)
    projection = start + np.stack([coeff, coeff], axis=-1) * (end - start)
    d2_line = position - projection
    d2_line = d2_line[:, :, 0] ** 2 + d2_line[:, :, 1] ** 2
    d2_seg = a_dominate * d2_start + b_dominate * d2_end + seg_dominate * d2_line
    patch = np.exp(-d2_seg / 2.0 / sigma**2) * value
    arr[min_y:max_y, min_x:max_x] = np.maximum(arr[min_y:max_y, min_x:max_x], patch)


def render_loop(
    keypoints: np.ndarray,
    scores: np.ndarray,
    height: int,
    width: int,
    *,
    sigma: float = 0.6,
    limbs: Sequence[tuple[int, int]] | None = None,
    with_joints: bool = True,
) -> np.ndarray:
    """PYSKL-style rendering: keypoints ``(T, M, K, 2)``, scores ``(T, M, K)`` → ``(T, C, H, W)``.

    Channels are the ``K`` joints (when ``with_joints``) followed by the limbs (when given).
    """
    num_frames, _, num_joints, _ = keypoints.shape
    num_channels = (num_joints if with_joints else 0) + (len(limbs) if limbs else 0)
    out = np.zeros((num_frames, num_channels, height, width), dtype=np.float32)
    for t in range(num_frames):
        kps, values = keypoints[t], scores[t]
        channel = 0
        if with_joints:
            for k in range(num_joints):
                for center, value in zip(kps[:, k], values[:, k], strict=True):
                    draw_joint(out[t, channel], center, value, sigma)
                channel += 1
        for a, b in limbs or ():
            for m in range(kps.shape[0]):
                draw_limb(out[t, channel], kps[m, a], kps[m, b], values[m, a], values[m, b], sigma)
            channel += 1
    return out


def uniform_sample_loop(
    num_frames: int, clip_len: int, num_clips: int = 1, test_mode: bool = False, seed: int = 255
) -> np.ndarray:
    """PYSKL's UniformSampleFrames on the global numpy RNG (p_interval=1, start_index=0)."""
    if test_mode:
        np.random.seed(seed)
    all_inds = []
    for i in range(num_clips):
        n = num_frames
        _ = np.random.rand()  # ratio draw; p_interval=1 makes it 1
        off = np.random.randint(1)
        if n < clip_len:
            test_start = i if n < num_clips else i * n // num_clips
            start = test_start if test_mode else np.random.randint(0, n)
            inds = np.arange(start, start + clip_len)
        elif clip_len <= n < 2 * clip_len:
            basic = np.arange(clip_len)
            picks = np.random.choice(clip_len + 1, n - clip_len, replace=False)
            offset = np.zeros(clip_len + 1, dtype=np.int64)
            offset[picks] = 1
            inds = basic + np.cumsum(offset)[:-1]
        else:
            bids = np.array([j * n // clip_len for j in range(clip_len + 1)])
            inds = bids[:clip_len] + np.random.randint(np.diff(bids))
        all_inds.append(inds + off)
    return np.mod(np.concatenate(all_inds), num_frames)
