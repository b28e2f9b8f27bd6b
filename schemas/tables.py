"""Arrow schemas of every table posebeam writes, with the schema version in the file metadata.

Every writer and reader imports its schema from here. Units: pixels of the decoded frame (x right,
y down), seconds from the stream's first presentation timestamp, frame indices counted from 0 in
decode order after any ``--fps`` sub-sampling has been applied to the *kept* frames' original
indices (a kept frame keeps its original index).
"""

from __future__ import annotations

import pyarrow as pa

from posebeam.schemas.layouts import COCO17

SCHEMA_VERSION = "1.0"
"""Bumped on any incompatible change; readers refuse tables with another major version."""

METADATA_VERSION_KEY = b"posebeam.schema_version"
METADATA_TABLE_KEY = b"posebeam.table"

NUM_KEYPOINT_VALUES = COCO17.num_joints * 3


def table_schema(table: str, fields: list[pa.Field], **extra: str) -> pa.Schema:
    metadata = {METADATA_VERSION_KEY: SCHEMA_VERSION.encode(), METADATA_TABLE_KEY: table.encode()}
    metadata.update({f"posebeam.{k}".encode(): v.encode() for k, v in extra.items()})
    return pa.schema(fields, metadata=metadata)


VIDEOS = table_schema(
    "videos",
    [
        pa.field("video_id", pa.string(), nullable=False),  # sha256 of the file bytes, 32 hex chars
        pa.field("uri", pa.string(), nullable=False),
        pa.field("duration_s", pa.float64()),
        pa.field("fps", pa.float64()),  # average frame rate of the stream
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("codec", pa.string()),
        # Display-matrix rotation (counterclockwise degrees) applied before pose estimation;
        # width, height and every coordinate are in that display orientation.
        pa.field("rotation_deg", pa.int32()),
        pa.field("frames_decoded", pa.int64()),
        pa.field("frames_processed", pa.int64()),  # after --fps sub-sampling
        pa.field("packets_skipped", pa.int64()),  # corrupt packets skipped during decode
        pa.field("backend", pa.string()),
        pa.field("backend_version", pa.string()),
        pa.field("persons_found", pa.int32()),  # distinct tracks
        pa.field("person_frames", pa.int64()),  # rows written to keypoints
    ],
)

KEYPOINTS = table_schema(
    "keypoints",
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("frame_index", pa.int32(), nullable=False),
        pa.field("timestamp_s", pa.float64(), nullable=False),
        pa.field("person_id", pa.int32(), nullable=False),
        pa.field("bbox", pa.list_(pa.float32(), 4)),  # x1, y1, x2, y2 in pixels
        pa.field("bbox_score", pa.float32()),
        # (x, y, confidence) per joint, flattened: x0, y0, c0, x1, y1, c1, ...
        pa.field("keypoints", pa.list_(pa.float32(), NUM_KEYPOINT_VALUES)),
    ],
    layout=COCO17.name,
)

FAILURES = table_schema(
    "failures",
    [
        pa.field("uri", pa.string(), nullable=False),
        pa.field("video_id", pa.string()),  # null when the file could not even be read
        pa.field("stage", pa.string(), nullable=False),  # read, open, decode, pose, ...
        pa.field("error_type", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
    ],
)

CLIP_PREDICTIONS = table_schema(
    "clip_predictions",
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("person_id", pa.int32(), nullable=False),
        pa.field("start_frame", pa.int32()),
        pa.field("end_frame", pa.int32()),  # exclusive
        pa.field("start_s", pa.float64()),
        pa.field("end_s", pa.float64()),
        pa.field("label", pa.string()),
        pa.field("score", pa.float32()),
        pa.field("top5_labels", pa.list_(pa.string())),
        pa.field("top5_scores", pa.list_(pa.float32())),
        pa.field("model", pa.string()),
    ],
)

FRAME_LABELS = table_schema(
    "frame_labels",
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("person_id", pa.int32(), nullable=False),
        pa.field("frame_index", pa.int32(), nullable=False),
        pa.field("label", pa.string()),
        pa.field("score", pa.float32()),
        pa.field("model", pa.string()),
    ],
)

SEGMENTS = table_schema(
    "segments",
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("person_id", pa.int32(), nullable=False),
        pa.field("start_frame", pa.int32()),
        pa.field("end_frame", pa.int32()),  # exclusive
        pa.field("label", pa.string()),
        pa.field("model", pa.string()),
    ],
)

EMBEDDINGS = table_schema(
    "embeddings",
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("person_id", pa.int32(), nullable=False),
        pa.field("frame_index", pa.int32(), nullable=False),
        pa.field("embedding", pa.list_(pa.float32())),
        pa.field("model", pa.string()),
    ],
)

TABLES: dict[str, pa.Schema] = {
    "videos": VIDEOS,
    "keypoints": KEYPOINTS,
    "failures": FAILURES,
    "clip_predictions": CLIP_PREDICTIONS,
    "frame_labels": FRAME_LABELS,
    "segments": SEGMENTS,
    "embeddings": EMBEDDINGS,
}


class SchemaVersionError(ValueError):
    """A table was written with an incompatible posebeam schema version."""


def check_schema_version(schema: pa.Schema, table: str) -> None:
    """Raise :class:`SchemaVersionError` unless ``schema`` is a compatible version of ``table``."""
    metadata = schema.metadata or {}
    found = metadata.get(METADATA_VERSION_KEY, b"").decode() or "none"
    if found.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise SchemaVersionError(
            f"table {table!r} has schema version {found}; this posebeam reads {SCHEMA_VERSION}"
        )
