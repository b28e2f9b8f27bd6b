"""Row builders for the tables in :mod:`posebeam.schemas.tables`.

Small tables (``videos``, ``failures``) travel as plain dict rows; ``keypoints`` travels as one
Arrow table per video, built columnar from numpy arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from posebeam.schemas.tables import FAILURES, KEYPOINTS, METADATA_TABLE_KEY, NUM_KEYPOINT_VALUES, VIDEOS

COORDINATE_STEP = 1.0 / 8.0
"""Keypoint and box coordinates are rounded to 1/8 pixel (error ≤ 1/16 px, far below any pose
model's): the zeroed low mantissa bits let zstd shrink the keypoints column from ~119 to ~75 bytes
per person-frame (measured on the sample clip)."""
CONFIDENCE_STEP = 1.0 / 256.0


def quantise(values: np.ndarray, step: float) -> np.ndarray:
    """Round to a multiple of ``step`` (a power of two keeps the result exact in float32)."""
    return (np.round(np.asarray(values, dtype=np.float64) / step) * step).astype(np.float32)


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
    (:func:`keep_inside_frame`); coordinates are rounded to 1/8 px, confidences to 1/256.

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
    return pa.Table.from_arrays(columns, schema=KEYPOINTS)


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
