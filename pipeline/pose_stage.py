"""The pose stage's work on one video: decode → detect → pose → track, without Beam.

:class:`PoseStage` owns a loaded backend and turns one input file into a
:class:`~posebeam.pipeline.video_result.VideoResult` (keypoints + ``videos`` row, or a
``failures`` row) plus the counts the job reports. ``DecodeAndEstimatePoses`` runs it in a
separate process (:mod:`posebeam.pipeline.isolation`), so that a native crash in a decoder or a
model only fails that video.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from posebeam.models.pose_backend import PersonPose, PoseBackend
from posebeam.pipeline.failure_messages import describe
from posebeam.pipeline.video_result import VideoResult
from posebeam.schemas.records import failure_row, keypoints_table, quantise, video_row
from posebeam.schemas.tables import CONFIDENCE_STEP, NUM_KEYPOINT_VALUES
from posebeam.storage.video import DecodedFrame, VideoReader, finite_or_none
from posebeam.transforms.sampling import FpsSampler
from posebeam.transforms.tracking import PersonTracker
from posebeam.transforms.video_windows import WHOLE_VIDEO, TimeWindow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractConfig:
    """Everything the pose stage needs, converted once from the command line."""

    backend: str = "movenet"
    backend_options: tuple[tuple[str, Any], ...] = ()
    backend_version: str = ""  # filled in on the launcher (part of the resume fingerprint)
    fps: float | None = None
    max_side: int | None = None
    batch_size: int = 8
    track_min_iou: float = 0.2
    track_low_iou: float = 0.4
    track_high_score: float = 0.25
    track_max_gap_s: float = 1.0
    window_s: float | None = 60.0  # videos of two windows or more are cut into windows this long
    cache_root: str | None = None  # where finished videos' results are kept (see results_cache)
    progress_dir: str | None = None  # a local run's progress events (see progress); None: none
    resume: bool = False  # reuse cached results instead of recomputing them


@dataclass
class StageCounts:
    """What one window of a video adds to the job's counters (its own frames, not its warm-up)."""

    frames: int = 0
    person_frames: int = 0
    decode_errors: int = 0


class StageError(Exception):
    """An error with the stage it happened in: ``read``, ``open``, ``decode``, ``pose``, or
    ``extract`` for an unexpected error (a bug: please report it)."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(str(error))
        self.stage = stage
        self.error = error

    def as_result(self, uri: str, video_id: str | None) -> VideoResult:
        message = describe(self.stage, self.error)
        return VideoResult(failure=failure_row(uri, self.stage, self.error, video_id, message=message))


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


class PoseStage:
    """One loaded backend, applied to one video at a time."""

    def __init__(self, config: ExtractConfig, backend: PoseBackend) -> None:
        self._config = config
        self._backend = backend

    def run(
        self, fileobj: IO[bytes], uri: str, video_id: str, window: TimeWindow = WHOLE_VIDEO
    ) -> tuple[VideoResult, StageCounts]:
        """The result of one window of a video (never raises for a bad video) and its counts.

        The keypoints are the window's tracked rows from its warm-up on, with the window's own
        ``person_id``s; the ``videos`` row counts the frames the window reports and the packets
        skipped after its start. A window that decoded no frame is not a failure here (the windows
        are judged together: :func:`posebeam.pipeline.window_results.combine_windows`); its decoder
        errors travel in ``decode_errors``."""
        counts = StageCounts()
        try:
            table, row, errors = self._extract(fileobj, uri, video_id, window, counts)
            return VideoResult(keypoints=table, video=row, decode_errors=errors), counts
        except StageError as err:
            return err.as_result(uri, video_id), counts
        except Exception as err:
            log.exception("unexpected error on %s", uri)
            return StageError("extract", err).as_result(uri, video_id), counts

    def _extract(
        self, fileobj: IO[bytes], uri: str, video_id: str, window: TimeWindow, counts: StageCounts
    ) -> tuple[Any, dict[str, Any], tuple[str, ...]]:
        config = self._config
        try:
            reader = VideoReader(fileobj, max_side=config.max_side)
        except Exception as err:
            raise StageError("open", err) from err
        sampler = FpsSampler(config.fps)
        tracker = PersonTracker(
            min_iou=config.track_min_iou,
            low_iou=config.track_low_iou,
            high_score=config.track_high_score,
            max_gap_s=config.track_max_gap_s,
        )
        rows = _PoseAccumulator()
        processed = decoded = 0
        skipped_before = None
        with reader:
            batch: list[DecodedFrame] = []
            try:
                for frame in reader.frames(start_s=window.warmup_s or None):
                    if window.end_s is not None and frame.timestamp_s >= window.end_s:
                        break
                    reported = frame.timestamp_s >= window.start_s
                    if reported and skipped_before is None:
                        skipped_before = reader.info.packets_skipped
                    decoded += int(reported)
                    if sampler.keep(frame.timestamp_s):
                        batch.append(frame)
                        processed += int(reported)
                    if len(batch) == config.batch_size:
                        self._estimate(batch, reader, tracker, rows, window.start_s)
                        batch = []
            except StageError:
                raise
            except Exception as err:  # noqa: BLE001 - a decoder crash after good frames
                reader.info.packets_skipped += 1
                log.warning("%s: decoding stopped early: %s", uri, err)
            if batch:
                self._estimate(batch, reader, tracker, rows, window.start_s)
        info = reader.info
        skipped = info.packets_skipped - (skipped_before or 0)
        counts.decode_errors += skipped
        counts.frames = processed  # the window's own frames: its warm-up is the previous window's
        own_rows = window.reports(np.asarray(rows.timestamp_s))  # not the warm-up's rows
        counts.person_frames = int(np.count_nonzero(own_rows))
        row = video_row(
            video_id=video_id,
            uri=uri,
            duration_s=finite_or_none(info.duration_s),
            fps=finite_or_none(info.fps),
            width=info.width,
            height=info.height,
            codec=info.codec,
            rotation_deg=info.rotation_deg,
            frames_decoded=decoded,
            frames_processed=processed,
            packets_skipped=skipped,
            backend=self._backend.name,
            backend_version=self._backend.version,
            persons_found=len(set(np.asarray(rows.person_id)[own_rows].tolist())),
            person_frames=counts.person_frames,
        )
        return rows.table(video_id, info.width, info.height), row, tuple(info.errors)

    def _estimate(
        self,
        batch: list[DecodedFrame],
        reader: VideoReader,
        tracker: PersonTracker,
        rows: _PoseAccumulator,
        start_s: float,
    ) -> None:
        """Poses and tracks of ``batch``; frames before ``start_s`` warm the tracker up and may start
        provisional tracks on weak boxes (:meth:`PersonTracker.update`)."""
        try:
            per_frame = self._backend.estimate([frame.rgb for frame in batch])
        except Exception as err:
            raise StageError("pose", err) from err
        width, height = reader.info.width, reader.info.height
        for frame, poses in zip(batch, per_frame, strict=True):
            poses = [pose.in_frame(1.0 / reader.scale, width, height) for pose in poses]
            boxes = np.array([pose.bbox for pose in poses]).reshape(-1, 4)
            # the stored score (percent): a row's bbox_score says whether the tracker found it confident
            scores = quantise(np.array([pose.bbox_score for pose in poses]), CONFIDENCE_STEP)
            ids = tracker.update(boxes, frame.timestamp_s, scores, start_weak=frame.timestamp_s < start_s)
            kept = [
                (pid, pose) for pid, pose in zip(ids, poses, strict=True) if pid >= 0
            ]  # -1: weak, untracked
            rows.add(frame, np.array([pid for pid, _ in kept]), [pose for _, pose in kept])
