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


class PersonRows(NamedTuple):
    """One person's rows of a video's keypoints table, sorted by frame: ``frame_index`` ``(N,)``,
    ``timestamp_s`` ``(N,)``, ``keypoints`` ``(N, 17, 2)`` pixels and ``scores`` ``(N, 17)``."""

    video_id: str
    person_id: int
    frame_index: np.ndarray
    timestamp_s: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray


def person_rows(table: pa.Table) -> Iterator[PersonRows]:
    """Each tracked person's rows of one video's ``keypoints`` table, in person order."""
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
        kept = triplets[rows]
        yield PersonRows(video_id, int(person_id), frame[rows], seconds[rows], kept[..., :2], kept[..., 2])


def person_clips(table: pa.Table, config: ClassifyConfig) -> Iterator[tuple[ClipKey, PersonClip]]:
    """Sliding windows over each person's rows of one video's ``keypoints`` table."""
    for person in person_rows(table):
        t = person.timestamp_s
        start = t[0]
        while True:
            inside = np.flatnonzero((t >= start) & (t < start + config.window_s))
            if len(inside) >= config.min_frames:
                first, last = inside[0], inside[-1]
                key = (person.video_id, person.person_id, int(person.frame_index[first]),
                       int(person.frame_index[last]) + 1, float(t[first]), float(t[last]))  # fmt: skip
                clip = PersonClip(person.keypoints[inside], person.scores[inside], person.frame_index[inside])
                yield key, clip
            if start + config.window_s >= t[-1]:
                break
            start += config.stride_s
