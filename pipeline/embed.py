"""``EmbedForAlignment``: a per-frame alignment embedding for every frame of every tracked person.

Tracks are cut from each video's keypoints table and resampled to the aligner's frame rate exactly
as ``SegmentActions`` does (:func:`~posebeam.pipeline.segment.person_tracks`); only keypoints
travel. The model stage, :class:`AlignerHandler` under Beam's ``RunInference``, loads the verified
checkpoint once per worker and embeds each track in half-overlapping windows
(:func:`~posebeam.models.aligner.embed_track`: one window of heatmaps in memory, tracks of any
length). Every keypoints row of an embedded track gets an ``embeddings`` row (the embedding of its
grid frame); a batch whose inference raises becomes ``failures`` rows of stage ``embed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import apache_beam as beam
import numpy as np
import torch
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference

from posebeam.models.aligner import SpaceTimeAligner, embed_track, load_aligner
from posebeam.models.allocator import keep_freed_memory
from posebeam.models.checkpoints import verify_checkpoint
from posebeam.pipeline.extract import METRICS_NAMESPACE
from posebeam.pipeline.model_weights import local_weights
from posebeam.pipeline.segment import Track, TrackKey, person_tracks
from posebeam.pipeline.stage_failures import ModelStageFailures, batch_failures
from posebeam.schemas.tables import EMBEDDING_DIM
from posebeam.transforms.alignment_views import AlignerSpec


@dataclass(frozen=True)
class EmbedConfig:
    """``weights``: an aligner checkpoint; ``batch_size``: tracks per ``RunInference`` batch;
    ``min_rows``: shorter tracks are not embedded."""

    weights: str
    batch_size: int = 4
    min_rows: int = 8


class AlignerHandler(ModelHandler[Track, PredictionResult, SpaceTimeAligner]):
    """Tracks → ``(T, E)`` float32 embeddings (the ``inference`` of each ``PredictionResult``)."""

    spec_type = AlignerSpec
    reads_frames: ClassVar[bool] = False

    def __init__(self, config: EmbedConfig) -> None:
        super().__init__()
        self._config = config
        self._spec: AlignerSpec | None = None
        self._device = "cuda" if torch.cuda.is_available() else "cpu"

    def load_model(self) -> SpaceTimeAligner:
        keep_freed_memory()  # once per worker process: see models/allocator.py
        model, self._spec, _ = load_aligner(local_weights(self._config.weights), device=self._device)
        return model

    @property
    def spec(self) -> AlignerSpec:
        """The loaded checkpoint's spec (after :meth:`load_model`)."""
        assert self._spec is not None, "load_model() reads the spec"
        return self._spec

    def run_inference(
        self, batch: Sequence[Track], model: SpaceTimeAligner, inference_args: dict[str, Any] | None = None
    ) -> Iterable[PredictionResult]:
        for track in batch:
            embeddings = embed_track(model, track.keypoints, track.scores, self.spec)
            yield PredictionResult(track, embeddings, self._config.weights)

    def batch_elements_kwargs(self) -> dict[str, int]:
        return {"min_batch_size": 1, "max_batch_size": self._config.batch_size}

    def get_num_bytes(self, batch: Sequence[Track]) -> int:
        return sum(track.keypoints.nbytes + track.scores.nbytes for track in batch)

    def get_metrics_namespace(self) -> str:
        return "posebeam_aligner"


def embedding_rows(key: TrackKey, embeddings: np.ndarray, model: str) -> list[dict[str, Any]]:
    """The ``embeddings`` rows of an embedded track: one per keypoints row."""
    chosen = embeddings[key.grid_index].astype(np.float32)
    return [
        {"video_id": key.video_id, "person_id": key.person_id, "frame_index": int(frame),
         "embedding": vector.tolist(), "model": model}
        for frame, vector in zip(key.frame_index, chosen, strict=True)
    ]  # fmt: skip


class _ToRows(beam.DoFn):
    def __init__(self, model: str) -> None:
        self._model = model
        self._rows = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "frames_embedded")

    def process(self, item: tuple[TrackKey, PredictionResult]) -> Iterator[dict[str, Any]]:
        key, result = item
        rows = embedding_rows(key, cast(np.ndarray, result.inference), self._model)
        self._rows.inc(len(rows))
        yield from rows


def table_spec(card: dict[str, Any], weights: str) -> AlignerSpec:
    """The aligner's spec from its model card; ``ValueError`` when its embeddings do not have the
    embeddings table's width."""
    spec = AlignerSpec.from_card(card["clip"])
    if spec.embedding_dim != EMBEDDING_DIM:
        raise ValueError(
            f"the aligner {weights} gives {spec.embedding_dim}-d embeddings; the embeddings table holds "
            f"{EMBEDDING_DIM}"
        )
    return spec


class EmbedForAlignment(beam.PTransform):
    """PCollection of per-video keypoints tables → ``embeddings`` and ``failures`` rows."""

    def __init__(self, config: EmbedConfig, videos: beam.PCollection | None = None) -> None:
        super().__init__()
        self._config = config
        card = verify_checkpoint(local_weights(config.weights))
        spec = table_spec(card, config.weights)
        self._fps = spec.fps
        self._model_name = f"{card['architecture']}@{card['sha256'][:12]}"
        self._videos = videos

    def expand(self, keypoints: beam.PCollection) -> dict[str, beam.PCollection]:
        config = self._config
        tracks = keypoints | "CutTracks" >> beam.FlatMap(person_tracks, self._fps, config.min_rows)
        handler: KeyedModelHandler = KeyedModelHandler(AlignerHandler(config))
        results, errors = tracks | "Embed" >> RunInference(handler).with_exception_handling()
        failures = errors.failed_inferences | "FailedBatches" >> beam.FlatMap(batch_failures)
        return {
            "embeddings": results | "ToRows" >> beam.ParDo(_ToRows(self._model_name)),
            "failures": failures | "FailureRows" >> ModelStageFailures("embed", self._videos),
        }
