"""The picture of ``posebeam align``: the DTW cost matrix of two tracks' embeddings with the warping
path, next to a few matched skeleton pairs (frame of A beside the frame of B it was matched to)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from posebeam.schemas.layouts import COCO17
from posebeam.transforms.heatmaps import EPS

if TYPE_CHECKING:
    from matplotlib.axes import Axes


@dataclass(frozen=True)
class MatchedPose:
    """One frame of a track: its number, ``keypoints`` ``(17, 2)`` pixels and ``scores`` ``(17,)``."""

    frame_index: int
    keypoints: np.ndarray
    scores: np.ndarray


def normalised_skeleton(pose: MatchedPose, x_offset: float) -> tuple[np.ndarray, np.ndarray]:
    """The present joints' coordinates scaled to unit height, centred at ``(x_offset, 0)``, y up;
    and the mask of present joints."""
    present = pose.scores >= EPS
    xy = np.asarray(pose.keypoints, dtype=np.float64).copy()
    if not present.any():
        return np.zeros_like(xy), present
    lo, hi = xy[present].min(axis=0), xy[present].max(axis=0)
    scale = max(float(hi[1] - lo[1]), float(hi[0] - lo[0]), 1.0)
    xy = (xy - (lo + hi) / 2) / scale
    xy[:, 1] = -xy[:, 1]  # image y points down
    xy[:, 0] += x_offset
    return xy, present


def _draw_pose(ax: Axes, pose: MatchedPose, x_offset: float, colour: str) -> None:
    xy, present = normalised_skeleton(pose, x_offset)
    for a, b in COCO17.limbs:
        if present[a] and present[b]:
            ax.plot(xy[[a, b], 0], xy[[a, b], 1], color=colour, linewidth=1.5)
    ax.scatter(xy[present, 0], xy[present, 1], s=6, color=colour)


def draw_alignment(
    cost: np.ndarray, path: Sequence[tuple[int, int]], rows: np.ndarray, cols: np.ndarray,
    pairs: Sequence[tuple[MatchedPose, MatchedPose]], titles: tuple[str, str], output: Path,
    compared: str = "the embeddings",
) -> None:  # fmt: skip
    """Write ``output`` (PNG): ``cost`` ``(Ta, Tb)`` (the squared-Euclidean cost of what is
    ``compared``; colours span its 1st to 99th percentile, so that a few extreme frames do not
    flatten the rest) with ``path`` (indices into it), its axes labelled with the frame numbers
    ``rows`` and ``cols``; beside it each pair of ``pairs`` (A blue, B orange)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = max(1, min(len(pairs), 4))
    fig = plt.figure(figsize=(5 + 2.4 * columns, 5))
    grid = fig.add_gridspec(2, 1 + columns, width_ratios=[2.2] + [1] * columns, height_ratios=[4, 1])
    ax = fig.add_subplot(grid[:, 0])
    low, high = np.percentile(cost, [1, 99])
    ax.imshow(cost, origin="lower", aspect="auto", cmap="viridis", vmin=low, vmax=max(high, low + 1e-12),
              extent=(cols[0] - 0.5, cols[-1] + 0.5, rows[0] - 0.5, rows[-1] + 0.5))  # fmt: skip
    steps = np.asarray(path, dtype=np.int64).reshape(-1, 2)
    ax.plot(cols[steps[:, 1]], rows[steps[:, 0]], color="red", linewidth=1.2, label="DTW path")
    ax.set_xlabel(f"frame of B: {titles[1]}")
    ax.set_ylabel(f"frame of A: {titles[0]}")
    ax.set_title(f"squared-Euclidean cost of {compared}")
    ax.legend(loc="upper left", fontsize=8)
    for column, (pose_a, pose_b) in enumerate(pairs[:columns]):
        panel = fig.add_subplot(grid[0, 1 + column])
        _draw_pose(panel, pose_a, 0.0, "tab:blue")
        _draw_pose(panel, pose_b, 1.2, "tab:orange")
        panel.set_title(f"A {pose_a.frame_index} ↔ B {pose_b.frame_index}", fontsize=9)
        panel.set_aspect("equal")
        panel.set_xlim(-0.7, 1.9)
        panel.set_ylim(-0.7, 0.7)
        panel.axis("off")
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=100)
    plt.close(fig)
