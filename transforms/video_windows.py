"""Long videos cut into time windows that run as separate work items, and their tracks stitched.

A window reports the frames of ``[start_s, end_s)``; it decodes and tracks from ``warmup_s`` (the
overlap before its start) so that its tracker has settled by ``start_s``. The overlap's frames are
reported by the window before, which decoded the very same frames and ran the same per-frame
detector, so the two windows' rows there carry identical boxes: a person's id in the new window is
the id of the track whose boxes it shares most there (one-to-one, Hungarian algorithm). Whatever the
window size, a video then gets the keypoints a single pass gives, up to a renaming of ``person_id``
(tested on a synthesised video), as long as the tracker has converged within the overlap.

A track the single pass keeps alive on weak detections only (a distant walker) would not converge:
a tracker starts tracks from confident detections. So during the warm-up, weak detections start
provisional tracks too (:class:`~posebeam.transforms.tracking.PersonTracker`). A provisional track
that shares boxes with a track of the window before continues it; one that shares none stands for
no track of a single pass, which would start one only at its first confident detection, so its rows
before that are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_OVERLAP_S = 2.0
OVERLAP_FRAMES = 4
"""The overlap spans at least this many processed frames under ``--fps``."""


@dataclass(frozen=True)
class TimeWindow:
    """One work item of a video: it reports ``[start_s, end_s)`` (``end_s`` None: to the end)."""

    index: int = 0
    count: int = 1
    start_s: float = 0.0
    end_s: float | None = None
    warmup_s: float = 0.0

    def reports(self, timestamp_s: np.ndarray) -> np.ndarray:
        """Which timestamps this window reports (a boolean mask)."""
        timestamp_s = np.asarray(timestamp_s, dtype=np.float64)
        inside = timestamp_s >= self.start_s
        return inside if self.end_s is None else inside & (timestamp_s < self.end_s)

    def cache_key(self, video_id: str) -> str:
        """The results-cache name of this window's result (the ``video_id`` when it is the only one)."""
        return video_id if self.count == 1 else f"{video_id}w{self.index}of{self.count}"

    def describe(self) -> str:
        end = "the end" if self.end_s is None else f"{self.end_s:g} s"
        return f"window {self.index + 1} of {self.count} ({self.start_s:g} s to {end})"


WHOLE_VIDEO = TimeWindow()


def overlap_s(track_max_gap_s: float, fps: float | None) -> float:
    """The overlap before each window: twice the tracker's longest gap, at least
    :data:`MIN_OVERLAP_S` and :data:`OVERLAP_FRAMES` processed frames."""
    frames = OVERLAP_FRAMES / fps if fps else 0.0
    return max(MIN_OVERLAP_S, 2 * track_max_gap_s, frames)


def plan_windows(duration_s: float | None, window_s: float | None, overlap: float) -> list[TimeWindow]:
    """Windows of ``window_s`` seconds covering a video (the last one runs to the stream's end, so
    it is between one and two windows long); one window when the duration is unknown, the video is
    shorter than two windows, or ``window_s`` is None."""
    if not window_s or duration_s is None or not math.isfinite(duration_s) or duration_s < 2 * window_s:
        return [WHOLE_VIDEO]
    count = math.floor(duration_s / window_s)
    return [
        TimeWindow(
            index=i,
            count=count,
            start_s=i * window_s,
            end_s=None if i == count - 1 else (i + 1) * window_s,
            warmup_s=max(0.0, i * window_s - overlap),
        )
        for i in range(count)
    ]


@dataclass(frozen=True)
class TrackedRows:
    """What stitching needs of one window's rows: frame, time, local track id and box of each."""

    frame_index: np.ndarray  # (N,) int
    timestamp_s: np.ndarray  # (N,) float
    person_id: np.ndarray  # (N,) int, the window's own ids
    bbox: np.ndarray  # (N, 4) float, x1 y1 x2 y2 pixels
    bbox_score: np.ndarray | None = None  # (N,) float; None: all confident


def _row_keys(rows: TrackedRows, mask: np.ndarray) -> list[tuple[int, bytes]]:
    boxes = np.round(np.asarray(rows.bbox, dtype=np.float64)[mask], 1)
    return [(int(f), box.tobytes()) for f, box in zip(rows.frame_index[mask], boxes, strict=True)]


def _first_seen_order(rows: TrackedRows, mask: np.ndarray) -> list[int]:
    """The window's local ids among ``mask``'s rows, by first appearance (then by id)."""
    ids, times = rows.person_id[mask], rows.timestamp_s[mask]
    first: dict[int, float] = {}
    for pid, t in sorted(zip(ids.tolist(), times.tolist(), strict=True), key=lambda p: (p[1], p[0])):
        first.setdefault(pid, t)
    return list(first)


def _unconfirmed(rows: TrackedRows, ids: list[int], high_score: float) -> np.ndarray:
    """Rows of the local tracks ``ids`` that came before the track's first confident box, for the
    tracks whose first row is weak (provisional tracks started in the warm-up)."""
    dropped = np.zeros(len(rows.person_id), dtype=bool)
    if rows.bbox_score is None:
        return dropped
    scores, times = np.asarray(rows.bbox_score), np.asarray(rows.timestamp_s)
    for pid in ids:
        mine = np.flatnonzero(rows.person_id == pid)
        mine = mine[np.argsort(times[mine], kind="stable")]
        confident = mine[scores[mine] >= high_score]
        if scores[mine[0]] < high_score:
            until = times[confident[0]] if len(confident) else np.inf
            dropped[mine[times[mine] < until]] = True
    return dropped


def stitch_person_ids(
    windows: Sequence[TimeWindow], rows: Sequence[TrackedRows], high_score: float
) -> list[np.ndarray]:
    """Per window (in order), the video-wide ``person_id`` of each of its rows; -1 for rows it does
    not report (its warm-up, and a provisional track's weak rows that continue no earlier track).
    New persons are numbered in order of first appearance from 0. ``high_score``: the tracker's
    confident detection score."""
    from scipy.optimize import linear_sum_assignment  # here: Beam workers that never stitch skip SciPy

    next_id = 0
    stitched: list[np.ndarray] = []
    previous: dict[tuple[int, bytes], int] = {}  # the previous window's reported rows → video-wide id
    for window, current in zip(windows, rows, strict=True):
        reported = window.reports(current.timestamp_s)
        warmup = ~reported & (np.asarray(current.timestamp_s) < window.start_s)
        local_ids = _first_seen_order(current, reported)
        mapping: dict[int, int] = {}
        if previous and local_ids:
            known = sorted(set(previous.values()))
            shared = np.zeros((len(local_ids), len(known)), dtype=np.int64)
            local_row = {pid: i for i, pid in enumerate(local_ids)}
            known_col = {pid: j for j, pid in enumerate(known)}
            for pid, key in zip(current.person_id[warmup].tolist(), _row_keys(current, warmup), strict=True):
                if pid in local_row and key in previous:
                    shared[local_row[pid], known_col[previous[key]]] += 1
            for r, c in zip(*linear_sum_assignment(-shared), strict=True):
                if shared[r, c] > 0:
                    mapping[local_ids[r]] = known[c]
        if window.warmup_s < window.start_s:
            reported &= ~_unconfirmed(current, [p for p in local_ids if p not in mapping], high_score)
        for pid in _first_seen_order(current, reported):
            if pid not in mapping:
                mapping[pid] = next_id
                next_id += 1
        ids = np.array([mapping.get(pid, -1) for pid in current.person_id.tolist()], dtype=np.int64)
        ids[~reported] = -1
        stitched.append(ids)
        previous = dict(zip(_row_keys(current, reported), ids[reported].tolist(), strict=True))
    return stitched
