"""``ClassifyClips``: per-person clip predictions with Beam ``RunInference``.

Each video's keypoints table is cut into clips per tracked person: windows of ``window_s``
seconds every ``stride_s`` seconds over the person's rows, kept when they hold at least
``min_frames`` rows. Only keypoints travel (a few KB per clip); the heatmap views are rendered in
the model stage, batch by batch, by :class:`PoseClassifierHandler`, which loads the verified
safetensors checkpoint once per worker. Softmax is averaged over ``num_clips`` test clips × the
mirrored copy, as in evaluation. Output rows follow ``schemas.tables.CLIP_PREDICTIONS``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
import torch
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference
from torch import nn

from posebeam.models.checkpoints import card_path
from posebeam.models.classifier import load_classifier
from posebeam.transforms.clip_inputs import ClipSpec, eval_views

ClipKey = tuple[str, int, int, int, float, float]
"""video_id, person_id, start_frame, end_frame (exclusive), start_s, end_s."""
ClipExample = tuple[np.ndarray, np.ndarray]
"""keypoints ``(T, 17, 2)`` pixels and scores ``(T, 17)`` of one person's clip."""


@dataclass(frozen=True)
class ClassifyConfig:
    weights: str
    window_s: float = 3.0
    stride_s: float = 1.5
    min_frames: int = 8
    num_clips: int = 1
    flip: bool = True
    batch_size: int = 4


def clip_windows(table: pa.Table, config: ClassifyConfig) -> Iterator[tuple[ClipKey, ClipExample]]:
    """Sliding windows over each person's rows of one video's ``keypoints`` table."""
    if table.num_rows == 0:
        return
    video_id = table.column("video_id")[0].as_py()
    person = table.column("person_id").to_numpy()
    frame = table.column("frame_index").to_numpy()
    seconds = table.column("timestamp_s").to_numpy()
    triplets = table.column("keypoints").combine_chunks().flatten().to_numpy().reshape(-1, 17, 3)
    for person_id in np.unique(person):
        rows = np.flatnonzero(person == person_id)
        rows = rows[np.argsort(frame[rows], kind="stable")]
        t = seconds[rows]
        start = t[0]
        while True:
            inside = rows[(t >= start) & (t < start + config.window_s)]
            if len(inside) >= config.min_frames:
                key = (video_id, int(person_id), int(frame[inside[0]]), int(frame[inside[-1]]) + 1,
                       float(seconds[inside[0]]), float(seconds[inside[-1]]))  # fmt: skip
                yield key, (triplets[inside, :, :2].copy(), triplets[inside, :, 2].copy())
            if start + config.window_s >= t[-1]:
                break
            start += config.stride_s


class PoseClassifierHandler(ModelHandler[ClipExample, PredictionResult, nn.Module]):
    """Loads a classifier checkpoint; turns clips into test views and returns class probabilities."""

    def __init__(self, config: ClassifyConfig) -> None:
        super().__init__()
        self._config = config
        self._spec: ClipSpec | None = None
        self._device = "cuda" if torch.cuda.is_available() else "cpu"

    def load_model(self) -> nn.Module:
        model, card = load_classifier(self._config.weights, device=self._device)
        self._spec = ClipSpec.from_card(card["clip"])
        return model

    @torch.no_grad()
    def run_inference(
        self, batch: Sequence[ClipExample], model: nn.Module, inference_args: dict[str, Any] | None = None
    ) -> Iterable[PredictionResult]:
        assert self._spec is not None, "load_model() reads the clip spec"
        views = [eval_views(kp, sc, self._spec, num_clips=self._config.num_clips, flip=self._config.flip)
                 for kp, sc in batch]  # fmt: skip
        logits = model(torch.from_numpy(np.concatenate(views)).to(self._device))
        probabilities = torch.softmax(logits, dim=1).cpu().numpy()
        bounds = np.cumsum([0] + [len(v) for v in views])
        for example, lo, hi in zip(batch, bounds[:-1], bounds[1:], strict=True):
            yield PredictionResult(example, probabilities[lo:hi].mean(axis=0), self._config.weights)

    def batch_elements_kwargs(self) -> dict[str, int]:
        return {"min_batch_size": 1, "max_batch_size": self._config.batch_size}

    def get_num_bytes(self, batch: Sequence[ClipExample]) -> int:
        return sum(kp.nbytes + sc.nbytes for kp, sc in batch)

    def get_metrics_namespace(self) -> str:
        return "posebeam_classifier"


def _prediction_row(key: ClipKey, result: PredictionResult, classes: list[str], model: str) -> dict[str, Any]:
    video_id, person_id, start_frame, end_frame, start_s, end_s = key
    probabilities = np.asarray(result.inference)
    top = np.argsort(-probabilities)[:5]
    return {
        "video_id": video_id,
        "person_id": person_id,
        "start_frame": start_frame,
        "end_frame": end_frame,
        "start_s": start_s,
        "end_s": end_s,
        "label": classes[top[0]],
        "score": float(probabilities[top[0]]),
        "top5_labels": [classes[i] for i in top],
        "top5_scores": [float(probabilities[i]) for i in top],
        "model": model,
    }


class ClassifyClips(beam.PTransform):
    """PCollection of per-video keypoints tables → ``clip_predictions`` rows."""

    def __init__(self, config: ClassifyConfig) -> None:
        super().__init__()
        self._config = config
        card = json.loads(card_path(config.weights).read_text())
        self._classes: list[str] = card["classes"]
        self._model_name = f"{card['architecture']}@{card['sha256'][:12]}"

    def expand(self, keypoints: beam.PCollection) -> beam.PCollection:
        config, classes, model = self._config, self._classes, self._model_name
        return (
            keypoints
            | "CutClips" >> beam.FlatMap(clip_windows, config)
            | "Classify" >> RunInference(KeyedModelHandler(PoseClassifierHandler(config)))
            | "ToRows" >> beam.Map(lambda item: _prediction_row(item[0], item[1], classes, model))
        )
