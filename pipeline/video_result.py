"""What the pose stage produced for one input or window, and its bytes (Arrow IPC).

Beam-free on purpose: the isolated pose child (:mod:`posebeam.pipeline.isolation`) imports this,
and importing Beam would add seconds to every child's start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa

from posebeam.schemas.tables import KEYPOINT_ROWS

RESULT_KEY = b"posebeam.result"
CACHED_FAILURE_STAGES = frozenset({"open", "decode", "crash"})
"""Failures decided by the file's content: a rerun would fail the same way (a native crash too)."""


@dataclass(frozen=True)
class VideoResult:
    """What one input (or one window of it) produced: keypoints + a ``videos`` row, or a
    ``failures`` row; ``decode_errors``: the decoder's first messages, for a video none of whose
    windows decoded a frame."""

    keypoints: pa.Table | None = None
    video: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None
    decode_errors: tuple[str, ...] = ()

    def with_uri(self, uri: str) -> VideoResult:
        """The same result for the same content found under another name."""
        return replace(
            self,
            video=None if self.video is None else {**self.video, "uri": uri},
            failure=None if self.failure is None else {**self.failure, "uri": uri},
        )

    @property
    def cacheable(self) -> bool:
        return self.video is not None or (
            self.failure is not None and self.failure["stage"] in CACHED_FAILURE_STAGES
        )


def result_to_bytes(result: VideoResult) -> bytes:
    """One Arrow IPC file: the keypoint rows, with the ``videos`` or ``failures`` row as JSON in
    its metadata (the cache's file format, and what the isolated pose stage sends back)."""
    payload = {"video": result.video, "failure": result.failure, "decode_errors": result.decode_errors}
    table = result.keypoints if result.keypoints is not None else KEYPOINT_ROWS.empty_table()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), RESULT_KEY: json.dumps(payload)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def result_from_bytes(data: bytes) -> VideoResult:
    """The inverse of :func:`result_to_bytes`; raises on a damaged or foreign file."""
    table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
    payload = json.loads(table.schema.metadata[RESULT_KEY])
    keypoints = table.replace_schema_metadata(KEYPOINT_ROWS.metadata)
    if not keypoints.schema.equals(KEYPOINT_ROWS, check_metadata=True):
        raise ValueError("keypoints schema differs")
    if payload["video"] is not None:
        errors = tuple(payload.get("decode_errors", ()))
        return VideoResult(keypoints=keypoints, video=payload["video"], decode_errors=errors)
    return VideoResult(failure=payload["failure"])
