"""Arrow schemas of the ground-truth label tables (training and evaluation data).

``posebeam synth`` writes them next to its ``videos`` and ``keypoints`` tables; users bring their own
in the same columns (CSV or Parquet, see :mod:`posebeam.training.datasets`). Labels are keyed like
keypoints: ``(video_id, person_id)`` names one track, frames are ``frame_index`` values of the
``keypoints`` table (counted from 0 in decode order), end frames are exclusive.

- ``clip_labels``: one row per labelled span of a track, for clip classifiers.
- ``frame_labels_gt``: one row per labelled frame of a track, for segmenters (the ground truth that
  the predicted ``frame_labels`` table is scored against).
- ``phase_labels``: one row per frame inside an action repetition: the named phase of the action and
  the progress through the repetition in [0, 1], for alignment (key events are phase changes).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from posebeam.schemas.tables import METADATA_TABLE_KEY, Column, table_schema

LABELS = "posebeam.schemas.labels.label_table"
"""Builds the label tables ``posebeam synth`` writes; users' own label files bring the same columns."""
TRACK = "track id: person_id of the keypoints table"

CLIP_LABELS = table_schema(
    "clip_labels",
    [
        Column("video_id", pa.string(), "32 hex digits", LABELS, "the video", nullable=False),
        Column("person_id", pa.int32(), TRACK, LABELS, "the labelled person", nullable=False),
        Column("start_frame", pa.int32(), "frame number", LABELS, "first frame of the span", nullable=False),
        Column("end_frame", pa.int32(), "frame number, exclusive", LABELS, "one past its last frame",
               nullable=False),
        Column("label", pa.string(), "class name", LABELS, "the action", nullable=False),
    ],
)  # fmt: skip

FRAME_LABELS_GT = table_schema(
    "frame_labels_gt",
    [
        Column("video_id", pa.string(), "32 hex digits", LABELS, "the video", nullable=False),
        Column("person_id", pa.int32(), TRACK, LABELS, "the labelled person", nullable=False),
        Column("frame_index", pa.int32(), "frame number", LABELS, "the frame", nullable=False),
        Column("label", pa.string(), "class name", LABELS, "the action at this frame", nullable=False),
    ],
)  # fmt: skip

PHASE_LABELS = table_schema(
    "phase_labels",
    [
        Column("video_id", pa.string(), "32 hex digits", LABELS, "the video", nullable=False),
        Column("person_id", pa.int32(), TRACK, LABELS, "the person", nullable=False),
        Column("frame_index", pa.int32(), "frame number", LABELS, "the frame", nullable=False),
        Column("phase", pa.string(), "phase name", LABELS, "the phase of the action at this frame",
               nullable=False),
        Column("progress", pa.float32(), "fraction in [0, 1]", LABELS,
               "0 at the start of a repetition, 1 at its end", nullable=False),
    ],
)  # fmt: skip

LABEL_TABLES: dict[str, pa.Schema] = {
    "clip_labels": CLIP_LABELS,
    "frame_labels_gt": FRAME_LABELS_GT,
    "phase_labels": PHASE_LABELS,
}


def label_table(schema: pa.Schema, video_id: str, **columns: np.ndarray | list[str]) -> pa.Table:
    """Rows of one video for ``schema``: ``video_id`` repeated, the other columns given as arrays.

    Raises ``KeyError`` when ``columns`` does not name exactly the schema's other columns.
    """
    names = [name for name in schema.names if name != "video_id"]
    if sorted(columns) != sorted(names):
        raise KeyError(
            f"{schema.metadata[METADATA_TABLE_KEY].decode()}: columns {names}, got {sorted(columns)}"
        )
    n = len(next(iter(columns.values()))) if columns else 0
    arrays = [pa.array([video_id] * n, type=pa.string())]
    arrays += [pa.array(columns[name], type=schema.field(name).type) for name in names]
    return pa.Table.from_arrays(arrays, schema=schema)
