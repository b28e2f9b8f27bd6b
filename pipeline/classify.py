"""``ClassifyClips``: per-person clip predictions with Beam ``RunInference``.

Clips are cut from each video's keypoints table by :mod:`posebeam.pipeline.clips`. The model
stage loads the verified safetensors checkpoint once per worker, served by the handler that the
card's architecture names in :mod:`posebeam.models.registry`:

- skeleton-only models (:class:`PoseClassifierHandler`): heatmap views are rendered batch by
  batch; softmax is averaged over ``num_clips`` test clips (1 by default; ``posebeam evaluate``
  uses 10) × the mirrored copy;
- ``rgbpose_conv3d`` (:class:`RGBPoseClassifierHandler`, docs/method.md §4.4): frames never cross a
  shuffle. Each clip carries its rows' frame indices and its video's URI, from a side input of
  the small ``videos`` table; the handler opens each video of a batch once, re-decodes only the
  frames at the clip's RGB positions (:func:`~posebeam.storage.video.read_frames`, from the
  nearest keyframe) and fuses the two streams' clip-averaged softmax 1:1. A clip whose video
  cannot be re-read (deleted, moved, corrupt) is skipped with a warning; the job goes on.

Counters (namespace ``posebeam``): ``rgb_frames_read`` (distinct frames a clip's RGB input was
built from: ``rgb_frames · num_clips`` per clip of at least that many rows),
``rgb_frames_decoded`` (decoder work, with the frames between a keyframe and the wanted ones) and
``rgb_clips_skipped``. Output rows follow ``schemas.tables.CLIP_PREDICTIONS``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar

import apache_beam as beam
import numpy as np
import torch
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference
from torch import nn

from posebeam.models.allocator import keep_freed_memory
from posebeam.models.checkpoints import verify_checkpoint
from posebeam.models.classifier import load_classifier
from posebeam.models.metrics import with_temperature
from posebeam.models.registry import architecture, load_object
from posebeam.models.rgbpose import fuse_test_scores
from posebeam.pipeline.clips import ClassifyConfig, ClipKey, PersonClip, person_clips
from posebeam.pipeline.extract import METRICS_NAMESPACE
from posebeam.pipeline.model_weights import local_weights
from posebeam.pipeline.stage_failures import ModelStageFailures, StageFailure, batch_failures
from posebeam.storage.video import READ_ERRORS, VideoReader, frames_at
from posebeam.transforms.clip_inputs import CardSpec, ClipSpec, eval_views
from posebeam.transforms.rgb_inputs import RGBPoseSpec, rgb_positions, rgbpose_inputs

log = logging.getLogger(__name__)

FAILED_TAG = "failed"

SpecT = TypeVar("SpecT", bound=CardSpec)


class ClipSkipped(NamedTuple):
    """The result of a clip the model stage could not classify, and why."""

    error_type: str
    reason: str


class ClipInput(NamedTuple):
    """A person's clip and, for handlers that re-read frames, the URI of its video."""

    clip: PersonClip
    uri: str | None


def clip_windows(table: Any, config: ClassifyConfig) -> Iterator[tuple[ClipKey, ClipInput]]:
    """:func:`person_clips` of one video's keypoints table, without a video URI."""
    for key, clip in person_clips(table, config):
        yield key, ClipInput(clip, None)


def clips_with_uris(
    table: Any, config: ClassifyConfig, uris: dict[str, list[str]]
) -> Iterator[tuple[ClipKey, ClipInput]]:
    """:func:`person_clips` with the URI of their video (the first, sorted, of identical files)."""
    for key, clip in person_clips(table, config):
        yield key, ClipInput(clip, min(uris[key[0]]))


class ClassifierHandler(ModelHandler[ClipInput, PredictionResult, nn.Module], Generic[SpecT]):
    """Loads a classifier checkpoint once per worker and reads its card's ``clip`` spec.

    A registry entry's ``inference_handler`` names a subclass; ``reads_frames`` says whether its
    clips need their video's URI (a side input of the ``videos`` table)."""

    spec_type: type[SpecT]
    reads_frames: ClassVar[bool] = False

    def __init__(self, config: ClassifyConfig) -> None:
        super().__init__()
        self._config = config
        self._spec: SpecT | None = None
        self._temperature = 1.0  # the card's calibration, read by load_model()
        self._device = "cuda" if torch.cuda.is_available() else "cpu"

    def load_model(self) -> nn.Module:
        keep_freed_memory()  # once per worker process: see models/allocator.py
        model, card = load_classifier(local_weights(self._config.weights), device=self._device)
        self._spec = self.spec_type.from_card(card["clip"])
        self._temperature = float(card.get("calibration", {}).get("temperature", 1.0))
        return model

    @property
    def spec(self) -> SpecT:
        assert self._spec is not None, "load_model() reads the clip spec"
        return self._spec

    def batch_elements_kwargs(self) -> dict[str, int]:
        return {"min_batch_size": 1, "max_batch_size": self._config.batch_size}

    def get_metrics_namespace(self) -> str:
        return "posebeam_classifier"


class PoseClassifierHandler(ClassifierHandler[ClipSpec]):
    """Skeleton-only classifiers: clips → test heatmap views → class probabilities."""

    spec_type = ClipSpec

    @torch.no_grad()
    def run_inference(
        self, batch: Sequence[ClipInput], model: nn.Module, inference_args: dict[str, Any] | None = None
    ) -> Iterable[PredictionResult]:
        config = self._config
        views = [eval_views(c.keypoints, c.scores, self.spec, num_clips=config.num_clips, flip=config.flip)
                 for c, _ in batch]  # fmt: skip
        logits = model(torch.from_numpy(np.concatenate(views)).to(self._device))
        probabilities = torch.softmax(logits, dim=1).cpu().numpy()
        bounds = np.cumsum([0] + [len(v) for v in views])
        for example, lo, hi in zip(batch, bounds[:-1], bounds[1:], strict=True):
            averaged = with_temperature(probabilities[lo:hi].mean(axis=0), self._temperature)
            yield PredictionResult(example, averaged, self._config.weights)

    def get_num_bytes(self, batch: Sequence[ClipInput]) -> int:
        return sum(clip.keypoints.nbytes + clip.scores.nbytes for clip, _ in batch)


class RGBPoseClassifierHandler(ClassifierHandler[RGBPoseSpec]):
    """RGBPose-Conv3D: re-decoded RGB frames + heatmaps → fused probabilities.

    A clip whose frames cannot be re-read gets a :class:`ClipSkipped` result (the keyed output
    keeps one result per example); :class:`ClassifyClips` turns it into a ``failures`` row.
    """

    spec_type = RGBPoseSpec
    reads_frames = True

    def __init__(self, config: ClassifyConfig) -> None:
        super().__init__(config)
        counter = beam.metrics.Metrics.counter
        self._frames_read = counter(METRICS_NAMESPACE, "rgb_frames_read")
        self._frames_decoded = counter(METRICS_NAMESPACE, "rgb_frames_decoded")
        self._skipped = counter(METRICS_NAMESPACE, "rgb_clips_skipped")

    @torch.no_grad()
    def run_inference(
        self, batch: Sequence[ClipInput], model: nn.Module, inference_args: dict[str, Any] | None = None
    ) -> Iterable[PredictionResult]:
        inputs, skipped = self._read_inputs(batch)
        scores: dict[int, np.ndarray] = {}
        if inputs:
            rgb, pose = (
                torch.from_numpy(np.concatenate([x[stream] for x in inputs.values()])).to(self._device)
                for stream in (0, 1)
            )
            rgb_logits, pose_logits = model(rgb, pose)
            fused = fuse_test_scores(rgb_logits, pose_logits, views=self._config.num_clips)
            scores = dict(zip(inputs, with_temperature(fused.cpu().numpy(), self._temperature), strict=True))
        for i, example in enumerate(batch):
            inference = scores[i] if i in scores else skipped[i]
            yield PredictionResult(example, inference, self._config.weights)

    def _read_inputs(
        self, batch: Sequence[ClipInput]
    ) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], dict[int, ClipSkipped]]:
        """``(rgb, pose)`` inputs of the clips whose frames could be re-read, and why the others
        could not, by batch position. Each video is opened once per batch; its clips seek within
        the one reader.
        """
        inputs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        skipped: dict[int, ClipSkipped] = {}
        readers: dict[str, VideoReader] = {}
        with ExitStack() as stack:
            for i, (clip, uri) in enumerate(batch):
                assert uri is not None, "ClassifyClips gives this handler's clips their video's URI"
                try:
                    if uri not in readers:
                        fileobj = stack.enter_context(FileSystems.open(uri))
                        readers[uri] = stack.enter_context(VideoReader(fileobj))
                    images = self._clip_frames(readers[uri], clip)
                except READ_ERRORS as err:
                    self._skipped.inc()
                    first, last = int(clip.frame_index[0]), int(clip.frame_index[-1])
                    log.warning("skipping the clip at frames %d-%d of %s: cannot re-read it: %s",
                                first, last, uri, err)  # fmt: skip
                    skipped[i] = ClipSkipped(
                        type(err).__name__, f"its frames cannot be re-read from {uri}: {err}"
                    )
                    continue
                num_clips = self._config.num_clips
                inputs[i] = rgbpose_inputs(images, clip.keypoints, clip.scores, self.spec, num_clips)
        return inputs, skipped

    def _clip_frames(self, reader: VideoReader, clip: PersonClip) -> list[np.ndarray]:
        """The RGB frames at the clip's RGB positions, in order: only those are asked for."""
        positions = rgb_positions(len(clip.frame_index), self.spec, self._config.num_clips)
        wanted = clip.frame_index[positions].tolist()
        decoded_before = reader.info.frames_decoded
        try:
            images = frames_at(reader, wanted)
        finally:
            self._frames_decoded.inc(reader.info.frames_decoded - decoded_before)
        self._frames_read.inc(len(set(wanted)))
        return images

    def get_num_bytes(self, batch: Sequence[ClipInput]) -> int:
        return sum(clip.keypoints.nbytes + clip.scores.nbytes for clip, _ in batch)


def prediction_row(key: ClipKey, result: PredictionResult, classes: list[str], model: str) -> dict[str, Any]:
    """A ``clip_predictions`` row: the clip's key and its ranked class probabilities."""
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
    """PCollection of per-video keypoints tables → ``clip_predictions`` rows.

    ``videos``, the ``videos`` table's PCollection, is needed by ``rgbpose_conv3d`` checkpoints:
    a side input of its ``video_id → uri`` tells the model stage where to re-read frames.
    """

    def __init__(self, config: ClassifyConfig, videos: beam.PCollection | None = None) -> None:
        super().__init__()
        self._config = config
        card = verify_checkpoint(local_weights(config.weights))
        self._classes: list[str] = card["classes"]
        self._model_name = f"{card['architecture']}@{card['sha256'][:12]}"
        self._videos = videos
        self._handler: type[ClassifierHandler] = load_object(
            architecture(card["architecture"]).inference_handler
        )
        if self._handler.reads_frames and videos is None:
            raise ValueError(f"{config.weights} re-reads video frames: ClassifyClips needs the videos table")

    def expand(self, keypoints: beam.PCollection) -> dict[str, beam.PCollection]:
        config = self._config
        if self._videos is not None and self._handler.reads_frames:
            uris = self._videos | "VideoUris" >> beam.Map(lambda row: (row["video_id"], row["uri"]))
            clips = keypoints | "CutClips" >> beam.FlatMap(
                clips_with_uris, config, beam.pvalue.AsMultiMap(uris)
            )
        else:
            clips = keypoints | "CutClips" >> beam.FlatMap(clip_windows, config)
        handler = self._handler(config)
        results, errors = (
            clips | "Classify" >> RunInference(KeyedModelHandler(handler)).with_exception_handling()
        )
        rows = results | "ToRows" >> beam.ParDo(_ToRows(self._classes, self._model_name)).with_outputs(
            FAILED_TAG, main="rows"
        )
        raised = errors.failed_inferences | "FailedBatches" >> beam.FlatMap(batch_failures)
        failures = (rows[FAILED_TAG], raised) | "ClassifyFailures" >> beam.Flatten()
        return {
            "clip_predictions": rows["rows"],
            "failures": failures | "FailureRows" >> ModelStageFailures("classify", self._videos),
        }


class _ToRows(beam.DoFn):
    """Keyed results → ``clip_predictions`` rows; a skipped clip → a :class:`StageFailure` (tagged)."""

    def __init__(self, classes: list[str], model: str) -> None:
        self._classes = classes
        self._model = model

    def process(self, item: tuple[ClipKey, PredictionResult]) -> Iterator[Any]:
        key, result = item
        if isinstance(result.inference, ClipSkipped):
            yield beam.pvalue.TaggedOutput(
                FAILED_TAG, StageFailure(key[0], result.inference.error_type, result.inference.reason)
            )
        else:
            yield prediction_row(key, result, self._classes, self._model)
