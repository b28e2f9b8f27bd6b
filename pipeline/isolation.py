"""The pose stage in a child process: a native crash fails one video, not the job.

Decoders and pose models run native code that can corrupt memory or segfault on hostile input (a
frame smaller than a detector's window, a damaged stream). :class:`IsolatedPoseStage` runs
:class:`~posebeam.pipeline.pose_stage.PoseStage` in a child Python process
(``python -m posebeam.pipeline.isolation``) that loads the backend once and then handles one
video at a time. When the child dies, the video it was on becomes a ``failures`` row at stage
``crash`` naming the signal, and the next video starts a fresh child.

Protocol, over the child's stdin and a private copy of its stdout (anything the libraries print
goes to stderr): the parent sends one JSON line with the config, the child answers ``{"ready":
true}`` once its backend is loaded; then per video window the parent sends ``{"uri", "video_id",
"window"}`` and the child answers one JSON line ``{"counts": {...}, "size": N}`` followed by the N
bytes of the result (:func:`~posebeam.pipeline.video_result.result_to_bytes`); asked ``{"uri",
"probe": true}`` it answers ``{"duration_s": …, "size": 0}`` (planning windows opens the file in a
child too). Frames never leave the child.

Window planning also starts the pose stage's child ahead of need (:func:`prestart`): its backend
loads while the planner reads durations and the runner moves on, and the pose stage takes it over.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import os
import subprocess
import sys
import threading
from typing import IO, Any

from posebeam.pipeline.failure_messages import crash_reason
from posebeam.pipeline.pose_stage import ExtractConfig, PoseStage, StageCounts, StageError
from posebeam.pipeline.video_result import VideoResult, result_from_bytes, result_to_bytes
from posebeam.schemas.records import failure_row
from posebeam.storage.uris import is_local
from posebeam.storage.video import VideoReader
from posebeam.transforms.video_windows import WHOLE_VIDEO, TimeWindow

log = logging.getLogger(__name__)


NATIVE_LOGS_ENV = "POSEBEAM_NATIVE_LOGS"
"""Set to 1 (``posebeam --verbose``) to let the pose child's native libraries write to stderr."""

PROBE_ONLY = "probe-only"
"""The factory of a child that loads no backend and only reads durations (window planning)."""


class NativeCrash(Exception):
    """The pose stage's process died (a signal or an exit) while it worked on a video."""


class BackendStartError(RuntimeError):
    """The child process could not load the pose backend at all: every video would fail."""


def _config_json(config: ExtractConfig, factory: str) -> str:
    return json.dumps({"config": dataclasses.asdict(config), "factory": factory})


class IsolatedPoseStage:
    """Runs the pose stage for one video at a time in a child process, restarted after a crash.

    ``factory`` is the backend's ``"module:factory"`` reference; the child sees the parent's
    ``sys.path``, so backends registered at run time (tests) load there too.
    """

    def __init__(self, config: ExtractConfig, factory: str) -> None:
        self._config = config
        self._factory = factory
        self._child: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        child = _take_spare(self._config, self._factory) or _spawn(self._config, self._factory)
        assert child.stdout is not None
        ready = child.stdout.readline()
        if not ready:
            status = child.wait()
            raise BackendStartError(
                f"the pose backend {self._config.backend!r} could not start (worker exit status {status})"
            )
        return child

    def _ask(self, request: dict[str, Any]) -> tuple[dict[str, Any], bytes] | int:
        """The child's reply header and payload, or its exit status when it died on the way."""
        if self._child is None or self._child.poll() is not None:
            self._child = self._start()
        child = self._child
        assert child.stdin is not None and child.stdout is not None
        try:
            child.stdin.write(json.dumps(request).encode() + b"\n")
            child.stdin.flush()
            header = child.stdout.readline()
            if header:
                reply = json.loads(header)
                payload = child.stdout.read(reply["size"])
                if len(payload) == reply["size"]:
                    return reply, payload
        except (BrokenPipeError, ConnectionResetError):
            pass
        status = child.wait()
        self._child = None
        log.warning("the pose stage crashed on %s (status %d); restarting it", request["uri"], status)
        return status

    def run(
        self, uri: str, video_id: str, window: TimeWindow = WHOLE_VIDEO
    ) -> tuple[VideoResult, StageCounts]:
        """The result and counts of one window of a video (by default all of it); a crash of the
        child is a ``crash`` failure."""
        answer = self._ask({"uri": uri, "video_id": video_id, "window": dataclasses.asdict(window)})
        if not isinstance(answer, int):
            reply, payload = answer
            return result_from_bytes(payload), StageCounts(**reply["counts"])
        reason = crash_reason(answer, "decoding and estimating poses")
        error = NativeCrash(reason)
        return VideoResult(failure=failure_row(uri, "crash", error, video_id, message=reason)), StageCounts()

    def duration_s(self, uri: str) -> float | None:
        """The video's duration from its header; None when unknown, unreadable or crashing (the
        video then runs as one window, which reports what went wrong)."""
        answer = self._ask({"uri": uri, "probe": True})
        return None if isinstance(answer, int) else answer[0]["duration_s"]

    def close(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            _close_child(child)


_SPARES: dict[str, subprocess.Popen[bytes]] = {}
"""Children started ahead of need (:func:`prestart`), by their config line; at most one each."""
_SPARES_LOCK = threading.Lock()


def _spawn(config: ExtractConfig, factory: str) -> subprocess.Popen[bytes]:
    """A new child, sent its config: it loads its backend and then says it is ready."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    child = subprocess.Popen(
        [sys.executable, "-m", "posebeam.pipeline.isolation"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert child.stdin is not None
    child.stdin.write(_config_json(config, factory).encode() + b"\n")
    child.stdin.flush()
    return child


def prestart(config: ExtractConfig, factory: str) -> None:
    """Start a child for ``config`` and ``factory`` now, without waiting for it: the next
    :class:`IsolatedPoseStage` of the same config in this process takes it over. Window planning
    calls this, so that the pose stage's backend loads while durations are read and the runner moves
    to the next stage (about a second off every job's start, per worker)."""
    key = _config_json(config, factory)
    with _SPARES_LOCK:
        if key not in _SPARES or _SPARES[key].poll() is not None:
            _SPARES[key] = _spawn(config, factory)


def discard_spare(config: ExtractConfig, factory: str) -> None:
    """Stop the child :func:`prestart` started, when no stage took it."""
    spare = _take_spare(config, factory)
    if spare is not None:
        _close_child(spare)


def _take_spare(config: ExtractConfig, factory: str) -> subprocess.Popen[bytes] | None:
    with _SPARES_LOCK:
        spare = _SPARES.pop(_config_json(config, factory), None)
    return spare if spare is not None and spare.poll() is None else None


def _close_child(child: subprocess.Popen[bytes]) -> None:
    assert child.stdin is not None
    try:
        child.stdin.close()
        child.wait(timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        child.kill()
        child.wait()


def _open_video(uri: str) -> IO[bytes]:
    """``uri`` opened for reading: a local path directly, anything else through Beam's
    ``FileSystems``, imported only then (Beam's import would add about 1.5 s to every child's start,
    on the job's critical path)."""
    if is_local(uri):
        return open(uri, "rb")
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.open(uri)


def _probe(uri: str) -> float | None:
    try:
        with _open_video(uri) as fileobj, VideoReader(fileobj) as reader:
            return reader.info.duration_s
    except Exception:  # noqa: BLE001 - the run of the whole video reports what is wrong
        return None


def _serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """The child's loop: load the backend (none for a ``PROBE_ONLY`` stage), then answer one
    request line at a time."""
    first = json.loads(requests.readline())
    fields = first["config"]
    fields["backend_options"] = tuple(tuple(pair) for pair in fields["backend_options"])
    config = ExtractConfig(**fields)
    stage = None
    if first["factory"] != PROBE_ONLY:
        module, _, name = first["factory"].partition(":")
        backend = getattr(importlib.import_module(module), name)(**dict(config.backend_options))
        stage = PoseStage(config, backend)
    replies.write(b'{"ready": true}\n')
    replies.flush()
    for line in requests:
        request: dict[str, Any] = json.loads(line)
        uri = request["uri"]
        if request.get("probe"):
            replies.write(json.dumps({"duration_s": _probe(uri), "size": 0}).encode() + b"\n")
            replies.flush()
            continue
        assert stage is not None, "a probe-only stage is only asked for durations"
        video_id, window = request["video_id"], TimeWindow(**request["window"])
        try:
            fileobj = _open_video(uri)
        except Exception as err:  # noqa: BLE001 - reported as an ``open`` failure row
            result, counts = StageError("open", err).as_result(uri, video_id), StageCounts()
        else:
            with fileobj:
                result, counts = stage.run(fileobj, uri, video_id, window)
        payload = result_to_bytes(result)
        header = {"counts": dataclasses.asdict(counts), "size": len(payload)}
        replies.write(json.dumps(header).encode() + b"\n" + payload)
        replies.flush()


def main() -> None:
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    if os.environ.get(NATIVE_LOGS_ENV) == "1":
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt the replies
    else:  # native libraries' log lines (MediaPipe's, FFmpeg's) go nowhere; Python's logging stays
        sys.stderr = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
    sys.stdout = sys.stderr
    _serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
