"""Row builders for the tables in :mod:`posebeam.schemas.tables`.

Small tables (``videos``, ``failures``) travel as plain dict rows; ``keypoints`` travels as one
Arrow table per video, built columnar from numpy arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from posebeam.schemas.tables import (
    CONFIDENCE_STEP,
    FAILURES,
    KEYPOINT_ROWS,
    KEYPOINT_STEP_PX,
    KEYPOINTS,
    METADATA_TABLE_KEY,
    NUM_KEYPOINT_VALUES,
    VIDEOS,
)

COORDINATE_STEP = KEYPOINT_STEP_PX
"""Keypoint and box coordinates are rounded to the stored half-pixel (docs/tables.md)."""
JOINTS = NUM_KEYPOINT_VALUES // 3
STORED_ENCODING = {
    name: "DELTA_BINARY_PACKED"
    for name, kind in zip(KEYPOINTS.names, KEYPOINTS.types, strict=True)
    if kind == pa.int32()
}
"""Parquet encodings of the stored keypoints' columns: coordinates, frame indices and person ids as
deltas from the row before (the rows come sorted by track); the rest dictionary-encoded.
``benchmarks/storage.py`` measures the options."""


def quantise(values: np.ndarray, step: float) -> np.ndarray:
    """Round to a multiple of ``step``, as float32."""
    return (np.round(np.asarray(values, dtype=np.float64) / step) * step).astype(np.float32)


def _steps(values: pa.Array | pa.ChunkedArray, step: float, dtype: type) -> np.ndarray:
    return np.round(np.asarray(values, dtype=np.float64) / step).astype(dtype)


def stored_keypoints(rows: pa.Table) -> pa.Table:
    """:data:`KEYPOINT_ROWS` → the stored :data:`KEYPOINTS` columns, sorted by video, person and
    frame."""
    rows = rows.sort_by([("video_id", "ascending"), ("person_id", "ascending"), ("frame_index", "ascending")])
    n = rows.num_rows
    boxes = np.asarray(rows.column("bbox").combine_chunks().flatten(), np.float64).reshape(n, 4)
    keypoints = np.asarray(rows.column("keypoints").combine_chunks().flatten(), np.float64).reshape(
        n, JOINTS, 3
    )
    columns: list[pa.Array | pa.ChunkedArray] = [rows.column(name) for name in KEYPOINTS.names[:4]]
    columns += [pa.array(_steps(boxes[:, i], COORDINATE_STEP, np.int32)) for i in range(4)]
    columns.append(pa.array(_steps(rows.column("bbox_score").fill_null(0), CONFIDENCE_STEP, np.uint8)))
    for joint in keypoints.transpose(1, 0, 2):
        columns += [pa.array(_steps(joint[:, axis], COORDINATE_STEP, np.int32)) for axis in (0, 1)]
        columns.append(pa.array(_steps(np.clip(joint[:, 2], 0, 1), CONFIDENCE_STEP, np.uint8)))
    return pa.Table.from_arrays(columns, schema=KEYPOINTS)


def keypoint_rows(stored: pa.Table) -> pa.Table:
    """The stored :data:`KEYPOINTS` columns → :data:`KEYPOINT_ROWS` (floats in pixels), row order
    kept."""
    n = stored.num_rows

    def stacked(names: list[str]) -> np.ndarray:
        return np.stack([np.asarray(stored.column(name).fill_null(0), np.float64) for name in names], axis=1)

    boxes = stacked(KEYPOINTS.names[4:8]) * COORDINATE_STEP
    values = stacked(KEYPOINTS.names[9:]).reshape(n, JOINTS, 3)
    values[..., :2] *= COORDINATE_STEP
    values[..., 2] *= CONFIDENCE_STEP
    columns = [stored.column(name) for name in KEYPOINTS.names[:4]]
    columns += [
        _fixed_list(boxes, 4),
        pa.array((stacked(["bbox_score"])[:, 0] * CONFIDENCE_STEP).astype(np.float32)),
        _fixed_list(values.reshape(n, NUM_KEYPOINT_VALUES), NUM_KEYPOINT_VALUES),
    ]
    return pa.Table.from_arrays(columns, schema=KEYPOINT_ROWS)


def keep_inside_frame(keypoints: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clamp ``(..., K, 3)`` keypoints into the frame; a joint outside it gets confidence 0.

    Pose models extrapolate joints that are out of view; the tables promise in-frame coordinates,
    and confidence 0 marks the joint as missing for every consumer (docs/method.md §1). Floating
    inputs keep their dtype.
    """
    out = np.array(keypoints, copy=True, dtype=np.result_type(keypoints, np.float32))
    x, y = out[..., 0], out[..., 1]
    outside = (x < 0) | (x > width - 1) | (y < 0) | (y > height - 1)
    out[..., 0] = np.clip(x, 0, width - 1)
    out[..., 1] = np.clip(y, 0, height - 1)
    out[..., 2] = np.where(outside, 0.0, out[..., 2])
    return out


def _fixed_list(values: np.ndarray, size: int) -> pa.FixedSizeListArray:
    flat = pa.array(np.ascontiguousarray(values, dtype=np.float32).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, size)


def keypoints_table(
    video_id: str,
    frame_index: np.ndarray,
    timestamp_s: np.ndarray,
    person_id: np.ndarray,
    bbox: np.ndarray,
    bbox_score: np.ndarray,
    keypoints: np.ndarray,
    width: int,
    height: int,
) -> pa.Table:
    """The ``keypoints`` rows of one video, ``N`` person-frames: the one producer of the table's
    columns. Joints outside the ``width``×``height`` frame are clamped to its edge with confidence 0
    (:func:`keep_inside_frame`); coordinates and confidences are rounded to their stored steps
    (half-pixels, percent).

    Args:
        frame_index, timestamp_s, person_id, bbox_score: ``(N,)``.
        bbox: ``(N, 4)`` xyxy pixels.
        keypoints: ``(N, K, 3)`` rows of x, y (pixels) and confidence, COCO-17 order.
    """
    n = len(frame_index)
    keypoints = np.asarray(keypoints, dtype=np.float64).reshape(n, NUM_KEYPOINT_VALUES // 3, 3)
    keypoints = keep_inside_frame(keypoints, width, height)
    triplets = np.concatenate(
        [quantise(keypoints[..., :2], COORDINATE_STEP), quantise(keypoints[..., 2:], CONFIDENCE_STEP)],
        axis=-1,
    )
    columns = [
        pa.array([video_id] * n, type=pa.string()),
        pa.array(np.asarray(frame_index, dtype=np.int32)),
        pa.array(np.asarray(timestamp_s, dtype=np.float64)),
        pa.array(np.asarray(person_id, dtype=np.int32)),
        _fixed_list(quantise(np.asarray(bbox).reshape(n, 4), COORDINATE_STEP), 4),
        pa.array(quantise(bbox_score, CONFIDENCE_STEP)),
        _fixed_list(triplets.reshape(n, NUM_KEYPOINT_VALUES), NUM_KEYPOINT_VALUES),
    ]
    return pa.Table.from_arrays(columns, schema=KEYPOINT_ROWS)


def video_row(**values: Any) -> dict[str, Any]:
    """A ``videos`` row; raises ``KeyError`` on a missing or unknown column."""
    return _row(VIDEOS, values)


def failure_row(
    uri: str,
    stage: str,
    error: BaseException | str,
    video_id: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """A ``failures`` row from an exception (its type; its text unless ``message`` says it in a
    user's terms) or a plain reason string."""
    if isinstance(error, BaseException):
        error_type, text = type(error).__name__, str(error) or repr(error)
    else:
        error_type, text = "Unreadable", error
    return _row(
        FAILURES,
        {"uri": uri, "video_id": video_id, "stage": stage, "error_type": error_type,
         "message": message or text},
    )  # fmt: skip


def _row(schema: pa.Schema, values: dict[str, Any]) -> dict[str, Any]:
    names = set(schema.names)
    unknown = set(values) - names
    missing = names - set(values)
    if unknown or missing:
        table = schema.metadata[METADATA_TABLE_KEY].decode()
        raise KeyError(f"{table} row: unknown {sorted(unknown)}, missing {sorted(missing)}")
    return {name: values[name] for name in schema.names}
