"""Person tracking in the style of ByteTrack: stable person ids within one video.

Each processed frame, every live track's box is first moved to where its constant velocity puts
it at the frame's timestamp (so a walker is looked for where they will be, not where they were).
Detections are then matched to tracks in two rounds, by maximising total IoU (Hungarian
algorithm, ``scipy.optimize.linear_sum_assignment``):

1. confident detections (score ≥ ``high_score``) against all live tracks, a pair needing IoU ≥
   ``min_iou``;
2. the remaining, less confident detections against the tracks still unmatched, a pair needing IoU
   ≥ ``low_iou``: a person partly hidden keeps their track through a weak detection.

A confident detection left over starts a new track; a weak one left over is dropped (id -1: most
are false positives), except while a time window warms up (``start_weak``): there a weak one starts
a provisional track too, so that a person the whole video's tracker keeps alive on weak detections
is found again (stitching keeps such a track's rows only if it continues a track of the window
before, or from its first confident detection on: ``transforms/video_windows.py``).

A track unmatched for more than ``max_gap_s`` seconds is retired and its id never reused; until
then it coasts on its velocity, so a person missed for a few frames, or hidden behind another, is
found again further along their path. Velocities are smoothed over matches. Gaps are measured in
time, so the tracker behaves the same under ``--fps``.

Defaults were chosen on the first 100 frames of the sample street clip (10 fps, MoveNet boxes
scoring 0.1 or more): ``high_score`` 0.25 keeps 4.2 persons per frame with 95 % of person-frames in
tracks of 20 frames or more (0.2: 4.45 and 92 %; 0.3: 3.9 and 91 %); with scores judged as stored,
in percent (a box of 0.2496 counts as 0.25), 4.25 and 94 %. HOG's boxes all score 0.3 or more, so
the blazepose backend's are all confident.

Zhang et al., "ByteTrack: Multi-Object Tracking by Associating Every Detection Box", ECCV 2022.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from posebeam.transforms.boxes import iou_matrix

VELOCITY_SMOOTHING = 0.5
"""Weight of the newest velocity estimate against the running one."""


@dataclass
class _Track:
    track_id: int
    box: np.ndarray
    last_seen_s: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))  # box corners, px per second

    def predicted(self, timestamp_s: float) -> np.ndarray:
        return self.box + self.velocity * (timestamp_s - self.last_seen_s)

    def matched(self, box: np.ndarray, timestamp_s: float) -> None:
        elapsed = timestamp_s - self.last_seen_s
        if elapsed > 0:
            observed = (box - self.box) / elapsed
            self.velocity = (1 - VELOCITY_SMOOTHING) * self.velocity + VELOCITY_SMOOTHING * observed
        self.box, self.last_seen_s = box, timestamp_s


def _assign(predicted: np.ndarray, boxes: np.ndarray, min_iou: float) -> list[tuple[int, int]]:
    """``(track row, box row)`` pairs of the best total IoU, each at least ``min_iou``."""
    if not len(predicted) or not len(boxes):
        return []
    from scipy.optimize import linear_sum_assignment  # here: SciPy's import (0.5 s) is the child's alone

    iou = iou_matrix(predicted, boxes)
    rows, cols = linear_sum_assignment(-iou)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= min_iou]


@dataclass
class PersonTracker:
    """Assigns ``person_id``s frame by frame. Call :meth:`update` once per processed frame."""

    min_iou: float = 0.2
    low_iou: float = 0.4
    high_score: float = 0.25
    max_gap_s: float = 1.0
    _next_id: int = 0
    _tracks: list[_Track] = field(default_factory=list)

    def update(
        self,
        boxes: np.ndarray,
        timestamp_s: float,
        scores: np.ndarray | None = None,
        start_weak: bool = False,
    ) -> np.ndarray:
        """One id per row of ``boxes`` (``(N, 4)`` xyxy pixels, ``scores`` ``(N,)``, all confident
        when None) seen at ``timestamp_s``; int64, -1 for a weak detection that continues no track
        (``start_weak``: weak detections start tracks too)."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.ones(len(boxes)) if scores is None else np.asarray(scores, dtype=np.float64)
        self._tracks = [t for t in self._tracks if timestamp_s - t.last_seen_s <= self.max_gap_s]
        ids = np.full(len(boxes), -1, dtype=np.int64)
        predicted = np.array([t.predicted(timestamp_s) for t in self._tracks]).reshape(-1, 4)
        free = list(range(len(self._tracks)))
        for wanted, min_iou in (
            (scores >= self.high_score, self.min_iou),
            (scores < self.high_score, self.low_iou),
        ):
            rows = np.flatnonzero(wanted)
            for track_row, box_row in _assign(predicted[free], boxes[rows], min_iou):
                track = self._tracks[free[track_row]]
                ids[rows[box_row]] = track.track_id
                track.matched(boxes[rows[box_row]], timestamp_s)
            free = [i for i in free if self._tracks[i].track_id not in set(ids.tolist())]
        for row in np.flatnonzero((ids < 0) & ((scores >= self.high_score) | start_weak)):
            ids[row] = self._next_id
            self._tracks.append(_Track(self._next_id, boxes[row], timestamp_s))
            self._next_id += 1
        return ids
