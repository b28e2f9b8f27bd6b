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
from dataclasses import asdict
from typing import Any

from apache_beam.io.filesystems import FileSystems

from posebeam.pipeline.video_result import VideoResult, result_from_bytes, result_to_bytes
from posebeam.schemas.tables import SCHEMA_VERSION

log = logging.getLogger(__name__)

CACHE_FOLDER = "_cache"


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
