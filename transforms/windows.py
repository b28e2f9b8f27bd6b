"""Half-overlapping windows over a long track, each frame owned by the window whose centre is
nearest: how the temporal models see tracks of any length with bounded memory (docs/method.md §6).
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
