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

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, cast

import apache_beam as beam
import numpy as np
import pyarrow as pa
import torch
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference

from posebeam.models.allocator import keep_freed_memory
from posebeam.models.checkpoints import verify_checkpoint
from posebeam.models.metrics import label_segments
from posebeam.models.segment_track import DEFAULT_CHUNK_FRAMES, load_segmenter, segment_track
from posebeam.models.segmenter import HeatmapSegmenter
from posebeam.pipeline.clips import person_rows
from posebeam.pipeline.extract import METRICS_NAMESPACE
from posebeam.pipeline.stage_failures import ModelStageFailures, batch_failures
from posebeam.transforms.frame_heatmaps import SegmenterSpec
from posebeam.transforms.track_resampling import resample_track

SEGMENTS_TAG = "segments"


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
    its frames (a frame without the person: scores 0)."""

    keypoints: np.ndarray
    scores: np.ndarray


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
        self.classes: list[str] = []
        self._device = "cuda" if torch.cuda.is_available() else "cpu"

    def load_model(self) -> HeatmapSegmenter:
        keep_freed_memory()  # once per worker process: see models/allocator.py
        model, self._spec, card = load_segmenter(self._config.weights, device=self._device)
        self.classes = list(card["classes"])
        return model

    def run_inference(
        self, batch: Sequence[Track], model: HeatmapSegmenter, inference_args: dict[str, Any] | None = None
    ) -> Iterable[PredictionResult]:
        assert self._spec is not None, "load_model() reads the spec"
        for track in batch:
            labels, scores = segment_track(
                model, track.keypoints, track.scores, self._spec, chunk_frames=self._config.chunk_frames
            )
            yield PredictionResult(track, FrameLabels(labels, scores), self._config.weights)

    def batch_elements_kwargs(self) -> dict[str, int]:
        return {"min_batch_size": 1, "max_batch_size": self._config.batch_size}

    def get_num_bytes(self, batch: Sequence[Track]) -> int:
        return sum(track.keypoints.nbytes + track.scores.nbytes for track in batch)

    def get_metrics_namespace(self) -> str:
        return "posebeam_segmenter"


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
        yield key, Track(track.keypoints, track.scores)


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
        card = verify_checkpoint(config.weights)
        self._classes: list[str] = list(card["classes"])
        self._model_name = f"{card['architecture']}@{card['sha256'][:12]}"
        self._fps = SegmenterSpec.from_card(card["clip"]).fps
        self._videos = videos

    def expand(self, keypoints: beam.PCollection) -> dict[str, beam.PCollection]:
        config = self._config
        tracks = keypoints | "CutTracks" >> beam.FlatMap(person_tracks, self._fps, config.min_rows)
        results, errors = (
            tracks
            | "Segment" >> RunInference(KeyedModelHandler(SegmenterHandler(config))).with_exception_handling()
        )
        rows = results | "ToRows" >> beam.ParDo(_ToRows(self._classes, self._model_name)).with_outputs(
            SEGMENTS_TAG, main="frame_labels"
        )
        failures = errors.failed_inferences | "FailedBatches" >> beam.FlatMap(batch_failures)
        return {
            "frame_labels": rows["frame_labels"],
            "segments": rows[SEGMENTS_TAG],
            "failures": failures | "FailureRows" >> ModelStageFailures("segment", self._videos),
        }
