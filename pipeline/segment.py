"""``SegmentActions``: a label for every frame of every tracked person, and their segments.

Each video's keypoints table is split into persons' tracks (:func:`person_tracks`: at least
``min_rows`` rows, resampled to the segmenter's frame rate by
:func:`~posebeam.transforms.track_resampling.resample_track`); only keypoints travel. The model
stage, :class:`SegmenterHandler` under Beam's ``RunInference``, loads the verified safetensors
checkpoint once per worker and runs :func:`~posebeam.models.segment_track.segment_track` on each
track: heatmaps and encoder features ``chunk_frames`` frames at a time, then MS-TCN++ over the
whole track (in windows beyond the spec's ``tcn_window``), so memory stays bounded for tracks of
any length. Tracks are not padded to a common length: each runs on its own.

Every row of a segmented track gets a ``frame_labels`` row (the label of its grid frame and its
probability); runs of equal labels become ``segments`` rows (:func:`segment_rows`), which tile
the track from its first to one past its last frame. A batch whose inference raises becomes
``failures`` rows of stage ``segment`` (one per video); the rest of the job goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, cast

import apache_beam as beam
import numpy as np
import pyarrow as pa
import torch
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference

from posebeam.models.allocator import keep_freed_memory
from posebeam.models.checkpoints import verify_checkpoint
from posebeam.models.metrics import label_segments
from posebeam.models.registry import architecture, load_object
from posebeam.models.segment_track import (
    DEFAULT_CHUNK_FRAMES,
    card_temperature,
    load_segmenter,
    segment_track,
)
from posebeam.models.segmenter import HeatmapSegmenter
from posebeam.pipeline.clips import person_rows
from posebeam.pipeline.extract import METRICS_NAMESPACE
from posebeam.pipeline.model_weights import local_weights
from posebeam.pipeline.stage_failures import ModelStageFailures, StageFailure, batch_failures
from posebeam.storage.video import READ_ERRORS, VideoReader
from posebeam.transforms.frame_heatmaps import SegmenterSpec
from posebeam.transforms.rgb_crops import RGBSegmenterSpec, track_crops
from posebeam.transforms.track_resampling import resample_track

SEGMENTS_TAG = "segments"
FAILED_TAG = "failed"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentConfig:
    """``weights``: a segmenter checkpoint; ``chunk_frames``: frames encoded at a time (memory
    only); ``batch_size``: tracks per ``RunInference`` batch; ``min_rows``: shorter tracks (a few
    stray detections) are not segmented."""

    weights: str
    chunk_frames: int = DEFAULT_CHUNK_FRAMES
    batch_size: int = 4
    min_rows: int = 8


class Track(NamedTuple):
    """One person's track: ``keypoints`` ``(T, 17, 2)`` pixels and ``scores`` ``(T, 17)``, dense over
    its frames (a frame without the person: scores 0). For handlers that re-read frames: the video
    frame of each of its frames, ``source_frame`` ``(T,)`` (−1: none), and its video's ``uri``."""

    keypoints: np.ndarray
    scores: np.ndarray
    source_frame: np.ndarray | None = None
    uri: str | None = None


class FrameLabels(NamedTuple):
    """A track's labels ``(T,)`` (class indices into ``classes``) and their probabilities ``(T,)``."""

    labels: np.ndarray
    scores: np.ndarray


class SegmenterHandler(ModelHandler[Track, PredictionResult, HeatmapSegmenter]):
    """Tracks → :class:`FrameLabels` (the ``inference`` of each ``PredictionResult``)."""

    spec_type = SegmenterSpec
    reads_frames: ClassVar[bool] = False

    def __init__(self, config: SegmentConfig) -> None:
        super().__init__()
        self._config = config
        self._spec: SegmenterSpec | None = None
        self._temperature = 1.0
        self.classes: list[str] = []
        self._device = "cuda" if torch.cuda.is_available() else "cpu"

    def load_model(self) -> HeatmapSegmenter:
        keep_freed_memory()  # once per worker process: see models/allocator.py
        model, self._spec, card = load_segmenter(local_weights(self._config.weights), device=self._device)
        self.classes = list(card["classes"])
        self._temperature = card_temperature(card)
        return model

    @property
    def spec(self) -> SegmenterSpec:
        """The loaded checkpoint's spec (after :meth:`load_model`)."""
        assert self._spec is not None, "load_model() reads the spec"
        return self._spec

    def run_inference(
        self, batch: Sequence[Track], model: HeatmapSegmenter, inference_args: dict[str, Any] | None = None
    ) -> Iterable[PredictionResult]:
        for track in batch:
            labels, scores = segment_track(
                model, track.keypoints, track.scores, self.spec, self._config.chunk_frames,
                temperature=self._temperature,
            )  # fmt: skip
            yield PredictionResult(track, FrameLabels(labels, scores), self._config.weights)

    def batch_elements_kwargs(self) -> dict[str, int]:
        return {"min_batch_size": 1, "max_batch_size": self._config.batch_size}

    def get_num_bytes(self, batch: Sequence[Track]) -> int:
        return sum(track.keypoints.nbytes + track.scores.nbytes for track in batch)

    def get_metrics_namespace(self) -> str:
        return "posebeam_segmenter"


class TrackSkipped(NamedTuple):
    """The result of a track the model stage could not segment, and why."""

    error_type: str
    reason: str


class RGBSegmenterHandler(SegmenterHandler):
    """Segmenters with an RGB stream: each track's frames are re-read from its video (frames never
    cross a shuffle), cut to the track's boxes as they stream past (only the crops are kept), then
    segmented. Each video is opened once per batch. A track whose video cannot be re-read gets a
    :class:`TrackSkipped` result, which :class:`SegmentActions` turns into a ``failures`` row."""

    spec_type = RGBSegmenterSpec
    reads_frames: ClassVar[bool] = True

    def run_inference(
        self, batch: Sequence[Track], model: HeatmapSegmenter, inference_args: dict[str, Any] | None = None
    ) -> Iterable[PredictionResult]:
        readers: dict[str, VideoReader] = {}
        with ExitStack() as stack:
            for track in batch:
                assert track.uri is not None, "SegmentActions gives this handler's tracks their video's URI"
                try:
                    if track.uri not in readers:
                        handle = stack.enter_context(FileSystems.open(track.uri))
                        readers[track.uri] = stack.enter_context(VideoReader(handle))
                    crops = self._crops(readers[track.uri], track)
                except READ_ERRORS as err:
                    log.warning("cannot re-read the frames of a track of %s: %s", track.uri, err)
                    reason = f"its frames cannot be re-read from {track.uri}: {err}"
                    yield PredictionResult(
                        track, TrackSkipped(type(err).__name__, reason), self._config.weights
                    )
                    continue
                labels, scores = segment_track(
                    model, track.keypoints, track.scores, self.spec, self._config.chunk_frames, crops,
                    self._temperature,
                )  # fmt: skip
                yield PredictionResult(track, FrameLabels(labels, scores), self._config.weights)

    def _crops(self, reader: VideoReader, track: Track) -> np.ndarray:
        spec = self.spec
        assert isinstance(spec, RGBSegmenterSpec) and track.source_frame is not None
        boxes = spec.boxes(track.keypoints, track.scores)
        present = track.source_frame[track.source_frame >= 0]
        start_s = float(present.min()) / reader.info.fps if len(present) and reader.info.fps else None
        frames = ((frame.index, frame.rgb) for frame in reader.frames(start_s=start_s))
        return track_crops(frames, track.source_frame, boxes, spec.rgb_size)


class TrackKey(NamedTuple):
    """Where a track's rows came from: each row's ``frame_index`` and ``timestamp_s`` ``(N,)`` and
    its point on the segmenter's frame grid, ``grid_index`` ``(N,)``."""

    video_id: str
    person_id: int
    frame_index: np.ndarray
    timestamp_s: np.ndarray
    grid_index: np.ndarray


def person_tracks(table: pa.Table, fps: float, min_rows: int) -> Iterator[tuple[TrackKey, Track]]:
    """Each person of one video's keypoints table with at least ``min_rows`` rows, resampled to
    ``fps``; rows without usable timestamps are taken as ``1 / fps`` apart per frame."""
    for person in person_rows(table):
        if len(person.frame_index) < min_rows:
            continue
        seconds = person.timestamp_s.astype(np.float64)
        if not (np.all(np.isfinite(seconds)) and np.all(np.diff(seconds) > 0)):
            seconds = (person.frame_index - person.frame_index[0]) / fps
        track = resample_track(seconds, person.keypoints, person.scores, fps)
        key = TrackKey(person.video_id, person.person_id, person.frame_index, seconds, track.grid_index)
        source = np.where(track.source_row >= 0, person.frame_index[track.source_row], -1)
        yield key, Track(track.keypoints, track.scores, source)


def tracks_with_uris(
    table: pa.Table, fps: float, min_rows: int, uris: dict[str, list[str]]
) -> Iterator[tuple[TrackKey, Track]]:
    """:func:`person_tracks` with the URI of their video (the first, sorted, of identical files)."""
    for key, track in person_tracks(table, fps, min_rows):
        candidates = list(uris[key.video_id])
        yield key, track._replace(uri=min(candidates) if candidates else None)


def frame_label_rows(
    key: TrackKey, result: FrameLabels, classes: list[str], model: str
) -> list[dict[str, Any]]:
    """The ``frame_labels`` rows of a segmented track: one per keypoints row."""
    labels, scores = result.labels[key.grid_index], result.scores[key.grid_index]
    return [
        {"video_id": key.video_id, "person_id": key.person_id, "frame_index": int(frame),
         "label": classes[label], "score": float(score), "model": model}
        for frame, label, score in zip(key.frame_index, labels, scores, strict=True)
    ]  # fmt: skip


def segment_rows(key: TrackKey, result: FrameLabels, classes: list[str], model: str) -> list[dict[str, Any]]:
    """The ``segments`` rows of a segmented track: runs of equal row labels, each ending where the
    next starts; the last ends one frame (of the video's rate) after the track's last row. ``score``:
    the mean probability of the run's rows."""
    labels, scores = result.labels[key.grid_index], result.scores[key.grid_index]
    frames, seconds = key.frame_index, key.timestamp_s
    span = int(frames[-1] - frames[0])
    frame_s = float(seconds[-1] - seconds[0]) / span if span else 0.0
    rows = []
    for _, start, end in label_segments(labels):
        last = end == len(labels)
        rows.append({
            "video_id": key.video_id, "person_id": key.person_id,
            "start_frame": int(frames[start]), "end_frame": int(frames[-1] + 1 if last else frames[end]),
            "start_s": float(seconds[start]), "end_s": float(seconds[-1] + frame_s if last else seconds[end]),
            "label": classes[labels[start]], "score": float(scores[start:end].mean()), "model": model,
        })  # fmt: skip
    return rows


class _ToRows(beam.DoFn):
    """Keyed results → ``frame_labels`` rows (main output) and ``segments`` rows (tagged)."""

    def __init__(self, classes: list[str], model: str) -> None:
        self._classes = classes
        self._model = model
        self._frames = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "frames_labelled")
        self._segments = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "segments")

    def process(self, item: tuple[TrackKey, PredictionResult]) -> Iterator[Any]:
        key, result = item
        if isinstance(result.inference, TrackSkipped):
            failure = StageFailure(key.video_id, result.inference.error_type, result.inference.reason)
            yield beam.pvalue.TaggedOutput(FAILED_TAG, failure)
            return
        labels = cast(FrameLabels, result.inference)
        frames = frame_label_rows(key, labels, self._classes, self._model)
        segments = segment_rows(key, labels, self._classes, self._model)
        self._frames.inc(len(frames))
        self._segments.inc(len(segments))
        yield from frames
        for row in segments:
            yield beam.pvalue.TaggedOutput(SEGMENTS_TAG, row)


class SegmentActions(beam.PTransform):
    """PCollection of per-video keypoints tables → ``frame_labels``, ``segments`` and ``failures``
    rows (``videos``, the ``videos`` table, names the failures' files)."""

    def __init__(self, config: SegmentConfig, videos: beam.PCollection | None = None) -> None:
        super().__init__()
        self._config = config
        card = verify_checkpoint(local_weights(config.weights))
        self._classes: list[str] = list(card["classes"])
        self._model_name = f"{card['architecture']}@{card['sha256'][:12]}"
        entry = architecture(card["architecture"])
        spec = entry.spec.from_card(card["clip"])
        assert isinstance(spec, SegmenterSpec), f"{config.weights} is not a segmenter"
        self._fps = spec.fps
        self._handler: type[SegmenterHandler] = load_object(entry.inference_handler)
        if self._handler.reads_frames and videos is None:
            raise ValueError(f"{config.weights} re-reads video frames: SegmentActions needs the videos table")
        self._videos = videos

    def expand(self, keypoints: beam.PCollection) -> dict[str, beam.PCollection]:
        config, fps = self._config, self._fps
        if self._videos is not None and self._handler.reads_frames:
            uris = beam.pvalue.AsMultiMap(
                self._videos | "VideoUris" >> beam.Map(lambda r: (r["video_id"], r["uri"]))
            )
            tracks = keypoints | "CutTracks" >> beam.FlatMap(tracks_with_uris, fps, config.min_rows, uris)
        else:
            tracks = keypoints | "CutTracks" >> beam.FlatMap(person_tracks, fps, config.min_rows)
        handler: KeyedModelHandler = KeyedModelHandler(self._handler(config))
        results, errors = tracks | "Segment" >> RunInference(handler).with_exception_handling()
        rows = results | "ToRows" >> beam.ParDo(_ToRows(self._classes, self._model_name)).with_outputs(
            SEGMENTS_TAG, FAILED_TAG, main="frame_labels"
        )
        raised = errors.failed_inferences | "FailedBatches" >> beam.FlatMap(batch_failures)
        failures = (rows[FAILED_TAG], raised) | "SegmentFailures" >> beam.Flatten()
        return {
            "frame_labels": rows["frame_labels"],
            "segments": rows[SEGMENTS_TAG],
            "failures": failures | "FailureRows" >> ModelStageFailures("segment", self._videos),
        }
