"""A tracked person's rows → a track at the segmenter's frame rate, and back.

The keypoints table holds a person's rows at the video's own frame rate (or at ``--fps``), with
gaps where the tracker lost them. A segmenter is trained on tracks at one frame rate (its spec's
``fps``), so its temporal model's receptive field is a fixed number of seconds only at that rate.
:func:`resample_track` puts the rows on a regular grid of ``1 / fps`` seconds from the person's
first to last row: each grid point takes the nearest row in time when one is within half a frame
(of the grid or of the rows, whichever is coarser), else it is a frame without the person (scores
0, as the segmenter's training tracks have). ``grid_index`` maps each row back to its grid point,
so labels computed on the grid label every row.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class ResampledTrack(NamedTuple):
    """``keypoints`` ``(G, 17, 2)`` and ``scores`` ``(G, 17)`` on the grid; ``grid_index`` ``(N,)``:
    each input row's grid point; ``source_row`` ``(G,)``: each grid point's row (−1: none)."""

    keypoints: np.ndarray
    scores: np.ndarray
    grid_index: np.ndarray
    source_row: np.ndarray


def resample_track(
    seconds: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, fps: float
) -> ResampledTrack:
    """Rows sorted by time (``seconds`` ``(N,)``, ``keypoints`` ``(N, 17, 2)``, ``scores``
    ``(N, 17)``) → the track on a ``fps`` grid starting at the first row (module doc)."""
    if len(seconds) == 0:
        raise ValueError("a track needs at least one row")
    t = np.asarray(seconds, dtype=np.float64) - float(seconds[0])
    if np.any(np.diff(t) < 0):
        raise ValueError("rows must be sorted by time")
    num_grid = round(float(t[-1]) * fps) + 1
    grid = np.arange(num_grid) / fps
    right = np.clip(np.searchsorted(t, grid), 1, len(t) - 1) if len(t) > 1 else np.zeros(num_grid, np.int64)
    left = np.maximum(right - 1, 0)
    nearest = np.where(np.abs(t[right] - grid) < np.abs(grid - t[left]), right, left)
    spacing = float(np.median(np.diff(t))) if len(t) > 1 else 1.0 / fps
    reach = 0.5 * max(1.0 / fps, spacing) * (1 + 1e-6)
    present = np.abs(t[nearest] - grid) <= reach
    out_keypoints = np.zeros((num_grid, *keypoints.shape[1:]), dtype=np.float32)
    out_scores = np.zeros((num_grid, *scores.shape[1:]), dtype=np.float32)
    out_keypoints[present] = keypoints[nearest[present]]
    out_scores[present] = scores[nearest[present]]
    grid_index = np.clip(np.floor(t * fps + 0.5).astype(np.int64), 0, num_grid - 1)  # nearest, halves up
    return ResampledTrack(out_keypoints, out_scores, grid_index, np.where(present, nearest, -1))
