"""A small IoU tracker: stable person ids within one video.

Each processed frame, live tracks and new detections are matched by maximising total box IoU
(Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``); a pair is accepted only when its
IoU is at least ``min_iou``. Unmatched detections start new tracks; a track not matched for more
than ``max_gap_s`` seconds is retired and its id is never reused. A track is compared through its
last matched box, so a person missed by the detector for a few frames keeps their id when they
reappear close by. Gaps are measured in time, so the tracker behaves the same under ``--fps``.

Defaults were chosen on the sample street clip (10 fps, HOG boxes): min_iou 0.2 and a 1 s gap keep
89 % of person-frames in tracks of 20 frames or more (0.3 and 0.5 s: 84 %).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from posebeam.transforms.boxes import iou_matrix


@dataclass
class _Track:
    track_id: int
    box: np.ndarray
    last_seen_s: float


@dataclass
class IouTracker:
    """Assigns ``person_id``s frame by frame. Call :meth:`update` once per processed frame."""

    min_iou: float = 0.2
    max_gap_s: float = 1.0
    _next_id: int = 0
    _tracks: list[_Track] = field(default_factory=list)

    def update(self, boxes: np.ndarray, timestamp_s: float) -> np.ndarray:
        """One id per row of ``boxes`` (``(N, 4)`` xyxy pixels) seen at ``timestamp_s``; int64."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        self._tracks = [t for t in self._tracks if timestamp_s - t.last_seen_s <= self.max_gap_s]
        ids = np.full(len(boxes), -1, dtype=np.int64)
        if self._tracks and len(boxes):
            iou = iou_matrix(np.stack([t.box for t in self._tracks]), boxes)
            rows, cols = linear_sum_assignment(-iou)
            for row, col in zip(rows, cols, strict=True):
                if iou[row, col] >= self.min_iou:
                    track = self._tracks[row]
                    ids[col] = track.track_id
                    track.box, track.last_seen_s = boxes[col], timestamp_s
        for col in np.flatnonzero(ids < 0):
            ids[col] = self._next_id
            self._tracks.append(_Track(self._next_id, boxes[col], timestamp_s))
            self._next_id += 1
        return ids
