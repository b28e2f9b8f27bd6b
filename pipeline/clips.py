"""Clips to classify: one video's keypoints table → sliding per-person windows.

Each video's keypoints table is cut into clips per tracked person: windows of ``window_s``
seconds every ``stride_s`` seconds over the person's rows, kept when they hold at least
``min_frames`` rows. Only keypoints (and their frame indices) travel: a few KB per clip.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow as pa

ClipKey = tuple[str, int, int, int, float, float]
"""video_id, person_id, start_frame, end_frame (exclusive), start_s, end_s."""


@dataclass(frozen=True)
class ClassifyConfig:
    weights: str
    window_s: float = 3.0
    stride_s: float = 1.5
    min_frames: int = 8
    num_clips: int = 1
    flip: bool = True  # the mirrored heatmap views of skeleton-only models (RGBPose tests unflipped)
    batch_size: int = 4


class PersonClip(NamedTuple):
    """One person's rows in a window: keypoints ``(T, 17, 2)`` pixels, scores ``(T, 17)`` and the
    video frame index of each row ``(T,)`` (rows may skip frames: ``--fps``, lost tracks)."""

    keypoints: np.ndarray
    scores: np.ndarray
    frame_index: np.ndarray


def person_clips(table: pa.Table, config: ClassifyConfig) -> Iterator[tuple[ClipKey, PersonClip]]:
    """Sliding windows over each person's rows of one video's ``keypoints`` table."""
    if table.num_rows == 0:
        return
    video_id = table.column("video_id")[0].as_py()
    person = table.column("person_id").to_numpy()
    frame = table.column("frame_index").to_numpy()
    seconds = table.column("timestamp_s").to_numpy()
    triplets = table.column("keypoints").combine_chunks().flatten().to_numpy().reshape(-1, 17, 3)
    for person_id in np.unique(person):
        rows = np.flatnonzero(person == person_id)
        rows = rows[np.argsort(frame[rows], kind="stable")]
        t = seconds[rows]
        start = t[0]
        while True:
            inside = rows[(t >= start) & (t < start + config.window_s)]
            if len(inside) >= config.min_frames:
                key = (video_id, int(person_id), int(frame[inside[0]]), int(frame[inside[-1]]) + 1,
                       float(seconds[inside[0]]), float(seconds[inside[-1]]))  # fmt: skip
                xy, score = triplets[inside, :, :2].copy(), triplets[inside, :, 2].copy()
                yield key, PersonClip(xy, score, frame[inside])
            if start + config.window_s >= t[-1]:
                break
            start += config.stride_s
