"""Arrow schemas of every table posebeam writes, with the schema version in the file metadata.

Every writer and reader imports its schema from here. Units: pixels of the decoded frame (x right,
y down), seconds from the stream's first presentation timestamp, frame indices counted from 0 in
decode order after any ``--fps`` sub-sampling has been applied to the *kept* frames' original
indices (a kept frame keeps its original index).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from posebeam.schemas.layouts import COCO17

SCHEMA_VERSION = "2.0"
"""Bumped on any incompatible change; readers refuse tables with another major version."""

METADATA_VERSION_KEY = b"posebeam.schema_version"
METADATA_TABLE_KEY = b"posebeam.table"

NUM_KEYPOINT_VALUES = COCO17.num_joints * 3


@dataclass(frozen=True)
class Column:
    """One documented column: its Arrow type, unit, meaning and the one function that produces it.

    ``producer`` is a dotted path (``package.module.function`` or ``…Class``) checked by the tests;
    a column of a table no stage writes yet names the issue that will in parentheses.
    """

    name: str
    type: pa.DataType
    unit: str
    producer: str
    description: str
    nullable: bool = True

    def field(self) -> pa.Field:
        return pa.field(self.name, self.type, nullable=self.nullable)


COLUMNS: dict[str, tuple[Column, ...]] = {}
"""Every table's documented columns, in schema order (``docs``, ``inspect`` and the tests read it)."""


def table_schema(table: str, columns: list[Column], **extra: str) -> pa.Schema:
    COLUMNS[table] = tuple(columns)
    metadata = {METADATA_VERSION_KEY: SCHEMA_VERSION.encode(), METADATA_TABLE_KEY: table.encode()}
    metadata.update({f"posebeam.{k}".encode(): v.encode() for k, v in extra.items()})
    return pa.schema([c.field() for c in columns], metadata=metadata)


EXTRACT = "posebeam.pipeline.window_results.combine_windows"
"""The ``videos`` row: the pose stage fills it per window from the decoder's
:class:`~posebeam.storage.video.StreamInfo` and its counts, and the windows' rows are added up into
the video's (``posebeam synth`` writes the same columns for its generated videos)."""
KEYPOINTS_WRITER = "posebeam.schemas.records.keypoints_table"
PREDICTION_WRITER = "posebeam.pipeline.classify.prediction_row"
FRAME_LABEL_WRITER = "posebeam.pipeline.segment.frame_label_rows"
SEGMENT_WRITER = "posebeam.pipeline.segment.segment_rows"
EMBEDDING_WRITER = "posebeam.pipeline.embed.embedding_rows"
EMBEDDING_DIM = 64
"""Values per embedding in the ``embeddings`` table (the aligners' ``embedding_dim``)."""
PX = "pixels of the decoded frame, display orientation (x right, y down)"

VIDEOS = table_schema(
    "videos",
    [
        Column("video_id", pa.string(), "32 hex digits", "posebeam.storage.video.content_hash",
               "first 32 hex digits of the SHA-256 of the file's bytes: identical files share it",
               nullable=False),
        Column("uri", pa.string(), "URI or local path", EXTRACT, "the input file as it was matched",
               nullable=False),
        Column("duration_s", pa.float64(), "seconds", EXTRACT, "the stream's duration (null if unknown)"),
        Column("fps", pa.float64(), "frames per second", EXTRACT, "average frame rate of the stream"),
        Column("width", pa.int32(), "pixels", EXTRACT, "frame width in display orientation"),
        Column("height", pa.int32(), "pixels", EXTRACT, "frame height in display orientation"),
        Column("codec", pa.string(), "FFmpeg codec name", EXTRACT, "the video stream's codec"),
        Column("rotation_deg", pa.int32(), "degrees, counterclockwise", EXTRACT,
               "display-matrix rotation applied before pose estimation; width, height and every "
               "coordinate are in that display orientation"),
        Column("frames_decoded", pa.int64(), "frames", EXTRACT, "frames the decoder produced"),
        Column("frames_processed", pa.int64(), "frames", EXTRACT,
               "frames given to the pose backend, after --fps sub-sampling"),
        Column("packets_skipped", pa.int64(), "packets", EXTRACT, "corrupt packets skipped while decoding"),
        Column("backend", pa.string(), "name", EXTRACT, "the pose backend (synth for posebeam synth)"),
        Column("backend_version", pa.string(), "version string", EXTRACT, "the backend's model version"),
        Column("persons_found", pa.int32(), "tracks", EXTRACT, "distinct person_id values of the video"),
        Column("person_frames", pa.int64(), "rows", EXTRACT, "rows of the video in the keypoints table"),
    ],
)  # fmt: skip

KEYPOINT_STEP_PX = 0.5
"""Stored keypoint and box coordinates are integers in half-pixels (value / 2 = pixels; rounding
error ≤ 0.25 px, far below any pose model's)."""
CONFIDENCE_STEP = 0.01
"""Stored confidences are integers in percent (value / 100 = confidence in [0, 1])."""
STORED_COORDINATE = "half-pixels (value / 2 = " + PX + ")"
STORED_CONFIDENCE = "percent (value / 100 = confidence in [0, 1])"

_ROW_KEYS = [
    Column("video_id", pa.string(), "32 hex digits", KEYPOINTS_WRITER, "the video (videos.video_id)",
           nullable=False),
    Column("frame_index", pa.int32(), "frame number from 0", KEYPOINTS_WRITER,
           "the frame's index in decode order, derived from its presentation timestamp; a frame "
           "kept by --fps keeps its original index", nullable=False),
    Column("timestamp_s", pa.float64(), "seconds", KEYPOINTS_WRITER,
           "presentation time from the stream's first frame", nullable=False),
    Column("person_id", pa.int32(), "track id", KEYPOINTS_WRITER,
           "the person's track (posebeam.transforms.tracking), stable within a video, never reused",
           nullable=False),
]  # fmt: skip

KEYPOINTS = table_schema(
    "keypoints",
    [
        *_ROW_KEYS,
        *(
            Column(f"bbox_{corner}", pa.int32(), STORED_COORDINATE, KEYPOINTS_WRITER,
                   f"person box {corner} from the detector, clipped to the frame")
            for corner in ("x1", "y1", "x2", "y2")
        ),
        Column("bbox_score", pa.uint8(), STORED_CONFIDENCE, KEYPOINTS_WRITER, "detector confidence"),
        *(
            Column(f"{joint}_{axis}", pa.uint8() if axis == "c" else pa.int32(),
                   STORED_CONFIDENCE if axis == "c" else STORED_COORDINATE, KEYPOINTS_WRITER,
                   f"{joint}: " + {"x": "x", "y": "y", "c": "confidence (0: missing; a joint outside the "
                                   "frame is clamped to its edge with confidence 0)"}[axis])
            for joint in COCO17.joints for axis in "xyc"
        ),
    ],
    layout=COCO17.name,
)  # fmt: skip
"""The stored table: one integer column per coordinate, rows sorted by video, person and frame, so
that Parquet's delta encoding sees a joint's small frame-to-frame moves (docs/tables.md). Readers
in posebeam get :data:`KEYPOINT_ROWS` back (:func:`posebeam.schemas.records.keypoint_rows`)."""

KEYPOINT_ROWS = pa.schema(
    [
        *(c.field() for c in _ROW_KEYS),
        pa.field("bbox", pa.list_(pa.float32(), 4)),
        pa.field("bbox_score", pa.float32()),
        pa.field("keypoints", pa.list_(pa.float32(), NUM_KEYPOINT_VALUES)),
    ],
    metadata=KEYPOINTS.metadata,
)
"""The keypoints as posebeam's stages and readers use them: ``bbox`` (x1, y1, x2, y2 pixels),
``bbox_score`` and ``keypoints`` (x, y, confidence per COCO-17 joint, flattened) as floats, at the
stored precision (:data:`KEYPOINT_STEP_PX`, :data:`CONFIDENCE_STEP`)."""

FAILURES = table_schema(
    "failures",
    [
        Column("uri", pa.string(), "URI or local path", "posebeam.schemas.records.failure_row",
               "the input that could not be used", nullable=False),
        Column("video_id", pa.string(), "32 hex digits", "posebeam.schemas.records.failure_row",
               "null when the file could not even be read"),
        Column("stage", pa.string(), "name", "posebeam.schemas.records.failure_row",
               "where it failed: read, open, decode, pose, extract", nullable=False),
        Column("error_type", pa.string(), "name", "posebeam.schemas.records.failure_row",
               "the kind of error", nullable=False),
        Column("message", pa.string(), "text", "posebeam.schemas.records.failure_row",
               "the reason, for a person", nullable=False),
    ],
)  # fmt: skip

CLIP_PREDICTIONS = table_schema(
    "clip_predictions",
    [
        Column("video_id", pa.string(), "32 hex digits", PREDICTION_WRITER, "the video", nullable=False),
        Column("person_id", pa.int32(), "track id", PREDICTION_WRITER, "the classified person",
               nullable=False),
        Column("start_frame", pa.int32(), "frame number", PREDICTION_WRITER, "the clip's first frame"),
        Column("end_frame", pa.int32(), "frame number, exclusive", PREDICTION_WRITER,
               "one past the clip's last frame"),
        Column("start_s", pa.float64(), "seconds", PREDICTION_WRITER, "timestamp of the first frame"),
        Column("end_s", pa.float64(), "seconds", PREDICTION_WRITER, "timestamp of the last frame"),
        Column("label", pa.string(), "class name", PREDICTION_WRITER, "the most probable class"),
        Column("score", pa.float32(), "probability", PREDICTION_WRITER, "its averaged softmax probability"),
        Column("top5_labels", pa.list_(pa.string()), "class names", PREDICTION_WRITER,
               "the five most probable classes, best first"),
        Column("top5_scores", pa.list_(pa.float32()), "probabilities", PREDICTION_WRITER,
               "their probabilities"),
        Column("model", pa.string(), "architecture@sha256 prefix", PREDICTION_WRITER,
               "the checkpoint that predicted"),
    ],
)  # fmt: skip

FRAME_LABELS = table_schema(
    "frame_labels",
    [
        Column("video_id", pa.string(), "32 hex digits", FRAME_LABEL_WRITER, "the video", nullable=False),
        Column("person_id", pa.int32(), "track id", FRAME_LABEL_WRITER, "the person", nullable=False),
        Column("frame_index", pa.int32(), "frame number", FRAME_LABEL_WRITER,
               "a frame of the person's keypoints rows", nullable=False),
        Column("label", pa.string(), "class name", FRAME_LABEL_WRITER, "the action at this frame"),
        Column("score", pa.float32(), "probability", FRAME_LABEL_WRITER,
               "the segmenter's probability of that label at this frame"),
        Column("model", pa.string(), "architecture@sha256 prefix", FRAME_LABEL_WRITER, "the segmenter"),
    ],
)  # fmt: skip

SEGMENTS = table_schema(
    "segments",
    [
        Column("video_id", pa.string(), "32 hex digits", SEGMENT_WRITER, "the video", nullable=False),
        Column("person_id", pa.int32(), "track id", SEGMENT_WRITER, "the person", nullable=False),
        Column("start_frame", pa.int32(), "frame number", SEGMENT_WRITER, "first frame of the segment"),
        Column("end_frame", pa.int32(), "frame number, exclusive", SEGMENT_WRITER,
               "one past its last frame: the next segment's first frame, or one past the track's last"),
        Column("start_s", pa.float64(), "seconds", SEGMENT_WRITER, "time of its first frame"),
        Column("end_s", pa.float64(), "seconds, exclusive", SEGMENT_WRITER,
               "time of end_frame (the next segment's start, or one frame after the track's end)"),
        Column("label", pa.string(), "class name", SEGMENT_WRITER, "the segment's action"),
        Column("score", pa.float32(), "probability", SEGMENT_WRITER,
               "mean probability of the label over the segment's frames"),
        Column("model", pa.string(), "architecture@sha256 prefix", SEGMENT_WRITER, "the segmenter"),
    ],
)  # fmt: skip

EMBEDDINGS = table_schema(
    "embeddings",
    [
        Column("video_id", pa.string(), "32 hex digits", EMBEDDING_WRITER, "the video", nullable=False),
        Column("person_id", pa.int32(), "track id", EMBEDDING_WRITER, "the person", nullable=False),
        Column("frame_index", pa.int32(), "frame number", EMBEDDING_WRITER,
               "a frame of the person's keypoints rows", nullable=False),
        Column("embedding", pa.list_(pa.float32(), EMBEDDING_DIM), "unitless", EMBEDDING_WRITER,
               "the frame's alignment embedding: near for corresponding moments of two executions"),
        Column("model", pa.string(), "architecture@sha256 prefix", EMBEDDING_WRITER, "the aligner"),
    ],
)  # fmt: skip

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


def bigquery_schema(schema: pa.Schema) -> dict[str, list[dict[str, str]]]:
    """The BigQuery table schema (``{"fields": [...]}``, as ``WriteToBigQuery`` takes it) of an
    Arrow schema: strings → STRING, integers → INTEGER, floats → FLOAT, lists → REPEATED."""

    def bigquery_type(kind: pa.DataType) -> str:
        if pa.types.is_string(kind):
            return "STRING"
        if pa.types.is_integer(kind):
            return "INTEGER"
        if pa.types.is_floating(kind):
            return "FLOAT"
        raise TypeError(f"no BigQuery type for {kind}")

    fields = []
    for field in schema:
        if pa.types.is_list(field.type) or pa.types.is_fixed_size_list(field.type):
            fields.append(
                {"name": field.name, "type": bigquery_type(field.type.value_type), "mode": "REPEATED"}
            )
        else:
            mode = "NULLABLE" if field.nullable else "REQUIRED"
            fields.append({"name": field.name, "type": bigquery_type(field.type), "mode": mode})
    return {"fields": fields}
