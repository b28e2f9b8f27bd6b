"""The segmenter's Beam ``RunInference`` model handler: whole tracks in, a label per frame out.

:class:`SegmenterHandler` loads the verified safetensors checkpoint once per worker and runs
:func:`~posebeam.models.segment_track.segment_track` on each track of a batch: heatmaps and
encoder features ``chunk_frames`` frames at a time, then MS-TCN++ over the whole track (in windows
beyond the spec's ``tcn_window``), so memory stays bounded for tracks of any length. Tracks are
not padded to a common length: each runs on its own. Not wired into ``posebeam run`` yet (the
``SegmentActions`` stage will key tracks by video and person and write ``frame_labels``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from posebeam.models.allocator import keep_freed_memory
from posebeam.models.segment_track import DEFAULT_CHUNK_FRAMES, load_segmenter, segment_track
from posebeam.models.segmenter import HeatmapSegmenter
from posebeam.transforms.frame_heatmaps import SegmenterSpec


@dataclass(frozen=True)
class SegmentConfig:
    """``weights``: a segmenter checkpoint; ``chunk_frames``: frames encoded at a time (memory
    only); ``batch_size``: tracks per ``RunInference`` batch."""

    weights: str
    chunk_frames: int = DEFAULT_CHUNK_FRAMES
    batch_size: int = 4


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
