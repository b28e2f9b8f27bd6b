"""Overlapping windows over a long track: how the temporal models see tracks of any length with
bounded memory. The segmenter's windows half-overlap and each frame is owned by the window whose
centre is nearest (docs/method.md §6); the aligner's overlap by three quarters and each frame's
embedding is the mean of the windows covering it, weighted towards their centres (§7).
"""

from __future__ import annotations

import numpy as np


def window_starts(num_frames: int, window: int) -> list[int]:
    """First frames of the half-overlapping windows that cover ``num_frames`` frames (the last one
    ending at the track's end)."""
    if num_frames <= window:
        return [0]
    return [*range(0, num_frames - window, window // 2), num_frames - window]


def owned_frames(num_frames: int, window: int) -> list[tuple[int, np.ndarray]]:
    """``(start, frames)`` of each window: the frames (absolute indices) whose nearest window centre
    is its own (ties: the later window); one window ``(0, all frames)`` for a short track."""
    starts = window_starts(num_frames, window)
    if len(starts) == 1:
        return [(0, np.arange(num_frames))]
    centres = np.asarray(starts) + window / 2
    owner = np.searchsorted((centres[:-1] + centres[1:]) / 2, np.arange(num_frames), side="right")
    return [(start, np.flatnonzero(owner == k)) for k, start in enumerate(starts)]


def blended_windows(num_frames: int, window: int, per_frame: int = 4) -> list[tuple[int, np.ndarray]]:
    """``(start, weights)`` of windows every ``window // per_frame`` frames (the last one ending at
    the track's end): ``weights`` ``(length,)`` rise from the window's edges to its centre
    (triangular), except towards the track's ends, which the first and last windows weigh fully.
    Each frame's embedding is the weighted mean of the windows covering it; one window ``(0,
    ones)`` for a short track."""
    if num_frames <= window:
        return [(0, np.ones(num_frames))]
    stride = max(1, window // per_frame)
    starts = [*range(0, num_frames - window, stride), num_frames - window]
    position = np.arange(window) + 0.5
    triangle = np.minimum(position, window - position)
    out = []
    for k, start in enumerate(starts):
        weights = triangle.copy()
        if k == 0:
            weights[: window // 2] = triangle.max()
        if k == len(starts) - 1:
            weights[window // 2 :] = triangle.max()
        out.append((start, weights))
    return out
