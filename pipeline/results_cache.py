"""Per-video results saved as soon as a video is done, so a killed run can ``--resume``.

Each finished input whose content hash is known leaves one Arrow IPC file,
``OUTPUT/_cache/<config fingerprint>/<video_id>.arrow`` (a long video cut into windows: one per
window, ``<video_id>w<i>of<n>.arrow``): its keypoint rows, with the ``videos`` or ``failures`` row
as JSON in the file metadata. The file is written under a temporary name and renamed, so a reader
never sees half of one. File names come from the hex ``video_id`` only, never from the input's
name. The fingerprint covers every option that changes results (backend, its options and version,
--fps, --max-side, tracker settings, --window_s, posebeam's and the schema's versions): a run with
other options or another release never reuses these results.

Only outcomes decided by the file's content are cached, a native crash included (so ``--resume``
does not crash on the same video forever): a ``pose`` failure (out of memory, a backend bug) is
retried by the next run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any

import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from posebeam.schemas.tables import KEYPOINT_ROWS, SCHEMA_VERSION

log = logging.getLogger(__name__)

CACHE_FOLDER = "_cache"
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


def posebeam_version() -> str:
    try:
        return importlib.metadata.version("posebeam")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def config_fingerprint(config: Any) -> str:
    """16 hex digits identifying the result-changing settings of an ``ExtractConfig``, with the
    backend's version (in the config), posebeam's version and the schema version."""
    settings = {
        k: v
        for k, v in asdict(config).items()
        if k not in {"batch_size", "cache_root", "resume", "progress_dir"}
    }
    settings["schema_version"] = SCHEMA_VERSION
    settings["posebeam_version"] = posebeam_version()
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cache_root(output: str, config: Any) -> str:
    return FileSystems.join(output, CACHE_FOLDER, config_fingerprint(config))


class ResultsCache:
    """Stores and loads :class:`VideoResult` files under ``root``."""

    def __init__(self, root: str) -> None:
        self._root = root

    def _path(self, key: str) -> str:
        if not key.isalnum():
            raise ValueError(f"not a content hash: {key!r}")
        return FileSystems.join(self._root, f"{key}.arrow")

    def store(self, key: str, result: VideoResult) -> None:
        """Keep ``result`` under ``key`` (a ``video_id``, or a window's key)."""
        if not result.cacheable:
            return
        final = self._path(key)
        partial = f"{final}.{uuid.uuid4().hex}.partial"
        if not FileSystems.exists(self._root):
            FileSystems.mkdirs(self._root)
        with FileSystems.create(partial) as handle:
            handle.write(result_to_bytes(result))
        FileSystems.rename([partial], [final])

    def load(self, key: str) -> VideoResult | None:
        """The stored result, or ``None`` when there is none or it cannot be read."""
        path = self._path(key)
        if not FileSystems.exists(path):
            return None
        try:
            with FileSystems.open(path) as handle:
                return result_from_bytes(handle.read())
        except Exception as err:  # noqa: BLE001 - a damaged cache entry is recomputed
            log.warning("ignoring unreadable cached result %s: %s", path, err)
            return None
