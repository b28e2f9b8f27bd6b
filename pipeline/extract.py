"""``DecodeAndEstimatePoses``: the fused decode → detect → pose → track stage.

Frames never leave the DoFn; only keypoint tables and small ``videos``/``failures`` rows do. Each
input file ends in exactly one of the ``videos`` or ``failures`` outputs. A video's keypoints are
emitted only together with its ``videos`` row, so a failure never leaves orphan keypoint rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.io.fileio import ReadableFile

from posebeam.models.pose_backend import PersonPose, PoseBackend, create_backend
from posebeam.pipeline.results_cache import ResultsCache, VideoResult
from posebeam.schemas.records import failure_row, keypoints_table, video_row
from posebeam.schemas.tables import NUM_KEYPOINT_VALUES
from posebeam.storage.video import (
    DecodedFrame,
    NoFramesDecoded,
    VideoReader,
    content_hash,
    finite_or_none,
)
from posebeam.transforms.sampling import FpsSampler
from posebeam.transforms.tracking import IouTracker

log = logging.getLogger(__name__)

VIDEOS_TAG = "videos"
FAILURES_TAG = "failures"
METRICS_NAMESPACE = "posebeam"


@dataclass(frozen=True)
class ExtractConfig:
    """Everything the pose stage needs, converted once from the pipeline options."""

    backend: str = "blazepose"
    backend_options: tuple[tuple[str, Any], ...] = ()
    fps: float | None = None
    max_side: int | None = None
    batch_size: int = 8
    track_min_iou: float = 0.2
    track_max_gap_s: float = 1.0
    cache_root: str | None = None  # where finished videos' results are kept (see results_cache)
    resume: bool = False  # reuse cached results instead of recomputing them


class EmptyFile(ValueError):
    """A zero-byte input."""


class StageError(Exception):
    """An error with the stage it happened in: ``read``, ``open``, ``decode``, ``pose``, or
    ``extract`` for an unexpected error (a bug: please report it)."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(str(error))
        self.stage = stage
        self.error = error

    def as_result(self, uri: str, video_id: str | None) -> VideoResult:
        return VideoResult(failure=failure_row(uri, self.stage, self.error, video_id))


def _read_content_hash(readable: ReadableFile) -> str:
    """The input's ``video_id``; a :class:`StageError` at stage ``read`` when it cannot be read."""
    if readable.metadata.size_in_bytes == 0:
        raise StageError("read", EmptyFile("the file is empty (0 bytes)"))
    try:
        with readable.open() as fileobj:
            return content_hash(fileobj)
    except Exception as err:
        raise StageError("read", err) from err


@dataclass
class _PoseAccumulator:
    """Columns of a video's keypoint rows, grown frame by frame."""

    frame_index: list[int] = field(default_factory=list)
    timestamp_s: list[float] = field(default_factory=list)
    person_id: list[int] = field(default_factory=list)
    bbox: list[np.ndarray] = field(default_factory=list)
    bbox_score: list[float] = field(default_factory=list)
    keypoints: list[np.ndarray] = field(default_factory=list)

    def add(self, frame: DecodedFrame, ids: np.ndarray, poses: list[PersonPose]) -> None:
        for pid, pose in zip(ids, poses, strict=True):
            self.frame_index.append(frame.index)
            self.timestamp_s.append(frame.timestamp_s)
            self.person_id.append(int(pid))
            self.bbox.append(pose.bbox)
            self.bbox_score.append(pose.bbox_score)
            self.keypoints.append(pose.keypoints)

    def table(self, video_id: str, width: int, height: int) -> Any:
        return keypoints_table(
            video_id,
            np.asarray(self.frame_index),
            np.asarray(self.timestamp_s),
            np.asarray(self.person_id),
            np.asarray(self.bbox).reshape(-1, 4),
            np.asarray(self.bbox_score),
            np.asarray(self.keypoints).reshape(-1, NUM_KEYPOINT_VALUES // 3, 3),
            width,
            height,
        )


class DecodeAndEstimatePosesFn(beam.DoFn):
    """ReadableFile → keypoints table (main), ``videos`` row and ``failures`` row (tagged)."""

    def __init__(self, config: ExtractConfig) -> None:
        self._config = config
        self._backend: PoseBackend | None = None
        counter = beam.metrics.Metrics.counter
        self._videos = counter(METRICS_NAMESPACE, "videos")
        self._failed = counter(METRICS_NAMESPACE, "failures")
        self._frames = counter(METRICS_NAMESPACE, "frames")
        self._persons = counter(METRICS_NAMESPACE, "person_frames")
        self._decode_errors = counter(METRICS_NAMESPACE, "decode_errors")
        self._resumed = counter(METRICS_NAMESPACE, "resumed")
        self._cache: ResultsCache | None = None

    def setup(self) -> None:
        self._backend = create_backend(self._config.backend, **dict(self._config.backend_options))
        root = self._config.cache_root
        self._cache = ResultsCache(root) if root else None

    def process(self, readable: ReadableFile) -> Iterator[Any]:
        uri = readable.metadata.path
        try:
            video_id = _read_content_hash(readable)
        except StageError as err:
            yield from self._emit(uri, err.as_result(uri, None))
            return
        result = self._cache.load(video_id) if self._cache and self._config.resume else None
        if result is not None:
            self._resumed.inc()
            result = result.with_uri(uri)
        else:
            try:
                table, row = self._extract(readable, uri, video_id)
                result = VideoResult(keypoints=table, video=row)
            except StageError as err:
                result = err.as_result(uri, video_id)
            except Exception as err:
                log.exception("unexpected error on %s", uri)
                result = StageError("extract", err).as_result(uri, video_id)
            if self._cache:
                self._cache.store(video_id, result)
        yield from self._emit(uri, result)

    def _emit(self, uri: str, result: VideoResult) -> Iterator[Any]:
        if result.failure is not None:
            self._failed.inc()
            failure = result.failure
            log.warning("%s failed at %s: %s", uri, failure["stage"], failure["message"])
            yield beam.pvalue.TaggedOutput(FAILURES_TAG, failure)
            return
        self._videos.inc()
        yield result.keypoints
        yield beam.pvalue.TaggedOutput(VIDEOS_TAG, result.video)

    def _extract(self, readable: ReadableFile, uri: str, video_id: str) -> tuple[Any, dict[str, Any]]:
        assert self._backend is not None, "setup() loads the backend"
        config = self._config
        try:
            fileobj = readable.open()
            reader = VideoReader(fileobj, max_side=config.max_side)
        except Exception as err:
            raise StageError("open", err) from err
        sampler = FpsSampler(config.fps)
        tracker = IouTracker(min_iou=config.track_min_iou, max_gap_s=config.track_max_gap_s)
        rows = _PoseAccumulator()
        processed = 0
        with reader, fileobj:
            batch: list[DecodedFrame] = []
            try:
                for frame in reader.frames():
                    if sampler.keep(frame.timestamp_s):
                        batch.append(frame)
                    if len(batch) == config.batch_size:
                        processed += self._estimate(batch, reader, tracker, rows)
                        batch = []
            except StageError:
                raise
            except Exception as err:  # noqa: BLE001 - a decoder crash after good frames
                reader.info.packets_skipped += 1
                log.warning("%s: decoding stopped early: %s", uri, err)
            if batch:
                processed += self._estimate(batch, reader, tracker, rows)
        info = reader.info
        self._decode_errors.inc(info.packets_skipped)
        if info.frames_decoded == 0:
            reason = "; ".join(info.errors[:3]) or "the video stream holds no decodable frame"
            raise StageError("decode", NoFramesDecoded(reason))
        row = video_row(
            video_id=video_id,
            uri=uri,
            duration_s=finite_or_none(info.duration_s),
            fps=finite_or_none(info.fps),
            width=info.width,
            height=info.height,
            codec=info.codec,
            rotation_deg=info.rotation_deg,
            frames_decoded=info.frames_decoded,
            frames_processed=processed,
            packets_skipped=info.packets_skipped,
            backend=self._backend.name,
            backend_version=self._backend.version,
            persons_found=len(set(rows.person_id)),
            person_frames=len(rows.person_id),
        )
        return rows.table(video_id, info.width, info.height), row

    def _estimate(
        self, batch: list[DecodedFrame], reader: VideoReader, tracker: IouTracker, rows: _PoseAccumulator
    ) -> int:
        assert self._backend is not None
        try:
            per_frame = self._backend.estimate([frame.rgb for frame in batch])
        except Exception as err:
            raise StageError("pose", err) from err
        width, height = reader.info.width, reader.info.height
        for frame, poses in zip(batch, per_frame, strict=True):
            poses = [pose.in_frame(1.0 / reader.scale, width, height) for pose in poses]
            boxes = np.array([pose.bbox for pose in poses]).reshape(-1, 4)
            ids = tracker.update(boxes, frame.timestamp_s)
            rows.add(frame, ids, poses)
            self._persons.inc(len(poses))
        self._frames.inc(len(batch))
        return len(batch)


class DecodeAndEstimatePoses(beam.PTransform):
    """PCollection[ReadableFile] → tagged outputs ``keypoints`` (Arrow tables), ``videos``, ``failures``."""

    def __init__(self, config: ExtractConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, files: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return (
            files
            | "SpreadVideos" >> beam.Reshuffle()
            | "DecodeDetectPoseTrack"
            >> beam.ParDo(DecodeAndEstimatePosesFn(self._config)).with_outputs(
                VIDEOS_TAG, FAILURES_TAG, main="keypoints"
            )
        )
