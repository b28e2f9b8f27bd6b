"""Everything a run wrote about one video, read back for pictures: its ``videos`` row, its keypoint
rows, and when present its frame labels, segments and clip predictions. ``posebeam render`` draws
them on the frames; ``posebeam report`` draws the thumbnails and timelines from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from posebeam.figures.timeline import LabelSpan, TrackSpan
from posebeam.figures.video_overlay import PersonOverlay
from posebeam.storage.parquet_tables import read_table
from posebeam.storage.uris import exists, join

HOLD_S = 1.0
"""Under ``--fps`` sub-sampling, frames between processed ones show the last processed frame's
persons for at most this long."""


def _table(output: str, name: str, video_id: str) -> pd.DataFrame | None:
    if not exists(join(output, name)):
        return None
    return read_table(output, name, filters=[("video_id", "=", video_id)]).to_pandas()


@dataclass
class VideoAnnotations:
    video: dict[str, Any]
    frame_index: np.ndarray  # (N,) the keypoint rows, sorted by frame then person
    timestamp_s: np.ndarray
    person_id: np.ndarray
    bbox: np.ndarray  # (N, 4)
    keypoints: np.ndarray  # (N, 17, 3)
    frame_labels: dict[tuple[int, int], str] = field(default_factory=dict)  # (person, frame) → label
    clips: pd.DataFrame | None = None  # clip_predictions rows
    segments: pd.DataFrame | None = None

    @classmethod
    def load(cls, output: str, video_id: str) -> VideoAnnotations:
        videos = read_table(output, "videos", filters=[("video_id", "=", video_id)]).to_pylist()
        rows = read_table(output, "keypoints", filters=[("video_id", "=", video_id)])
        rows = rows.sort_by([("frame_index", "ascending"), ("person_id", "ascending")])
        n = rows.num_rows
        labels = _table(output, "frame_labels", video_id)
        frame_labels = {}
        if labels is not None:
            keys = zip(labels.person_id.tolist(), labels.frame_index.tolist(), strict=True)
            frame_labels = dict(zip(keys, labels.label.tolist(), strict=True))
        return cls(
            video=videos[0],
            frame_index=rows.column("frame_index").to_numpy(),
            timestamp_s=rows.column("timestamp_s").to_numpy(),
            person_id=rows.column("person_id").to_numpy(),
            bbox=np.stack(rows.column("bbox").to_numpy(zero_copy_only=False)) if n else np.zeros((0, 4)),
            keypoints=(
                np.stack(rows.column("keypoints").to_numpy(zero_copy_only=False)).reshape(n, -1, 3)
                if n
                else np.zeros((0, 17, 3))
            ),
            frame_labels=frame_labels,
            clips=_table(output, "clip_predictions", video_id),
            segments=_table(output, "segments", video_id),
        )

    def _clip_caption(self, person: int, frame: int) -> str | None:
        """The prediction of the clip covering ``frame`` whose middle is nearest to it."""
        if self.clips is None or self.clips.empty:
            return None
        clips = self.clips
        covering = clips[
            (clips.person_id == person) & (clips.start_frame <= frame) & (clips.end_frame > frame)
        ]
        if covering.empty:
            return None
        middle = (covering.start_frame + covering.end_frame) / 2
        best = covering.loc[(middle - frame).abs().idxmin()]
        return f"clip: {best.label} {best.score:.2f}"

    def persons_at(self, frame: int, timestamp_s: float) -> list[PersonOverlay]:
        """The persons to draw on a decoded frame: its own rows, or under ``--fps`` the latest
        processed frame's within :data:`HOLD_S` before it."""
        position = int(np.searchsorted(self.frame_index, frame, side="right"))
        if position == 0:
            return []
        shown = int(self.frame_index[position - 1])
        start = int(np.searchsorted(self.frame_index, shown, side="left"))
        if shown != frame and timestamp_s - float(self.timestamp_s[start]) > HOLD_S:
            return []
        persons = []
        for row in range(start, position):
            pid = int(self.person_id[row])
            captions = [self.frame_labels.get((pid, shown)), self._clip_caption(pid, shown)]
            persons.append(
                PersonOverlay(pid, self.bbox[row], self.keypoints[row], tuple(c for c in captions if c))
            )
        return persons

    def track_spans(self) -> list[TrackSpan]:
        """Each person's first and last keypoint times."""
        if not len(self.person_id):
            return []
        frame = pd.DataFrame({"person_id": self.person_id, "t": self.timestamp_s})
        extent = frame.groupby("person_id").t.agg(["min", "max"])
        return [TrackSpan(int(pid), float(lo), float(hi)) for pid, (lo, hi) in extent.iterrows()]

    def label_spans(self) -> tuple[list[LabelSpan], str]:
        """The segmenter's segments, or else the clip predictions (each clip's middle half, so
        that overlapping clips tile the track), and which of the two they are ("" when neither)."""
        if self.segments is not None and not self.segments.empty:
            s = self.segments
            spans = zip(s.person_id, s.start_s, s.end_s, s.label, strict=True)
            return [
                LabelSpan(int(p), float(a), float(b), str(label)) for p, a, b, label in spans
            ], "segmenter"
        if self.clips is not None and not self.clips.empty:
            c = self.clips
            quarter = (c.end_s - c.start_s) / 4
            spans = zip(c.person_id, c.start_s + quarter, c.end_s - quarter, c.label, strict=True)
            return [
                LabelSpan(int(p), float(a), float(b), str(label)) for p, a, b, label in spans
            ], "classifier"
        return [], ""
