"""Training and evaluation of the action segmenter (docs/method.md §6).

Training reads a ``keypoints`` table and ``frame_labels_gt`` (``posebeam synth --kind sequences``
output or your own): one sequence per labelled track (:func:`~posebeam.training.datasets.
load_frame_sequences`). It holds out a fraction of the *videos* (or scores on ``test_data``) and
trains in two steps, because on a CPU the encoder cannot be trained through whole sequences:

a. the per-frame encoder and head on single augmented frames (Adam, cosine decay per step to 0,
   cross-entropy; :class:`~posebeam.training.segmenter_inputs.SegmenterInputs`);
b. the encoder frozen, features computed once per track (clean, plus ``augmented_copies``
   augmented views), then MS-TCN++ on batches of padded feature sequences (Adam, the
   architecture's rate: 5e-4 as the reference, no schedule; MS-TCN++'s loss).

Both the full model and the per-frame baseline (the frame head's argmax, same features) are scored
on the held-out tracks with frame accuracy, edit and F1@{10, 25, 50} (MS-TCN's ``eval.py``), every
class counting as a segment: ``stand`` between actions is an action here, not background. The
checkpoint is safetensors plus a model card (classes, spec, training config, both models' metrics).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from posebeam.models.checkpoints import save_checkpoint
from posebeam.models.metrics import (
    expected_calibration_error,
    fit_temperature,
    segmentation_scores,
    with_temperature,
)
from posebeam.models.registry import architecture, load_object
from posebeam.models.segment_track import (
    DEFAULT_CHUNK_FRAMES,
    build_segmenter,
    frame_baseline,
    load_segmenter,
    segment_features,
)
from posebeam.models.segmenter import HeatmapSegmenter, TemporalSegmenter
from posebeam.schemas.layouts import COCO17
from posebeam.training.datasets import FrameSequence, frame_rate, load_frame_sequences
from posebeam.training.progress import Progress
from posebeam.training.segmenter_inputs import (
    SegmenterInputs,
    TrackView,
    labelled_frames,
    tcn_loss,
)
from posebeam.training.splits import split_by_video
from posebeam.training.train_classifier import device
from posebeam.transforms.frame_heatmaps import SegmenterSpec

log = logging.getLogger(__name__)

BACKGROUND: tuple[str, ...] = ()
"""No label is background: ``stand`` between actions is scored as a segment like any other."""


@dataclass(frozen=True)
class SegmenterConfig:
    """Training settings. ``lr`` None takes the architecture's (MS-TCN++: Adam 5e-4)."""

    architecture: str = "heatmap_mstcn"
    epochs_frames: int = 4
    epochs_tcn: int = 50
    frame_batch_size: int = 64
    frame_lr: float = 1e-3
    batch_size: int = 4
    lr: float | None = None
    augmented_copies: int = 1
    test_fraction: float = 0.3
    seed: int = 0
    chunk_frames: int = DEFAULT_CHUNK_FRAMES


SCHEDULE = {
    "frames": "Adam, cosine decay per step to 0, no warm-up; the last incomplete batch is dropped",
    "tcn": "Adam, constant rate (MS-TCN++ main.py); batches of tracks zero-padded and masked",
}
LOSS = {
    "frames": "cross-entropy of the per-frame head",
    "tcn": "MS-TCN++: cross-entropy + 0.15 x truncated MSE (tau 4), summed over stages",
}


def segmenter_inputs(
    spec: SegmenterSpec, name: str, data: str, sequences: Sequence[FrameSequence]
) -> SegmenterInputs:
    """The training inputs the registry names for architecture ``name``, for ``sequences`` of
    ``data`` (an RGB stream reads their crops from the videos once, here)."""
    inputs_class: type[SegmenterInputs] = load_object(architecture(name).training_inputs)
    return inputs_class.for_samples(spec, data, sequences)


def fit_frames(
    model: HeatmapSegmenter, inputs: SegmenterInputs, train_set: Sequence[FrameSequence],
    config: SegmenterConfig, rng: np.random.Generator,
) -> int:  # fmt: skip
    """Step (a): ``epochs_frames`` epochs over every labelled frame of fresh augmented views of the
    tracks, in shuffled batches; returns the frames per epoch."""
    params = [*model.encoder.parameters(), *model.frame_head.parameters()]
    optimiser = torch.optim.Adam(params, lr=config.frame_lr)
    per_epoch = len(labelled_frames([inputs.clean_view(s) for s in train_set]))
    steps_per_epoch = per_epoch // config.frame_batch_size
    total = steps_per_epoch * config.epochs_frames
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(total, 1), eta_min=0.0)
    progress = Progress(total, config.epochs_frames, label="frames")
    model.train()
    for epoch in range(config.epochs_frames):
        views = inputs.views(train_set, rng)
        frames = labelled_frames(views)
        order = rng.permutation(len(frames))
        for start in range(0, steps_per_epoch * config.frame_batch_size, config.frame_batch_size):
            chosen = order[start : start + config.frame_batch_size]
            batch = [(views[frames[i][0]], frames[i][1]) for i in chosen]
            loss = inputs.loss(model, batch, rng)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            progress.step(epoch, loss.item())
    return per_epoch


def sequence_features(
    model: TemporalSegmenter, inputs: SegmenterInputs, train_set: Sequence[FrameSequence],
    config: SegmenterConfig, rng: np.random.Generator,
) -> list[tuple[Tensor, np.ndarray]]:  # fmt: skip
    """Step (b)'s data, computed once by the frozen encoder: ``((D, T) features, (T,) labels)`` of
    each track's clean view and ``augmented_copies`` augmented views."""
    model.eval()
    items = []
    started = time.monotonic()
    for number, sequence in enumerate(train_set, 1):
        views: list[TrackView] = [inputs.clean_view(sequence)]
        views += [inputs.augmented_view(sequence, rng) for _ in range(config.augmented_copies)]
        items += [(inputs.features(model, view, config.chunk_frames), view.labels) for view in views]
        if number % 50 == 0 or number == len(train_set):
            minutes = (time.monotonic() - started) / 60
            print(f"features {number}/{len(train_set)} tracks {minutes:.1f} min", flush=True)
    return items


def fit_tcn(
    model: TemporalSegmenter, items: list[tuple[Tensor, np.ndarray]], config: SegmenterConfig,
    rng: np.random.Generator,
) -> None:  # fmt: skip
    """Step (b): ``epochs_tcn`` epochs of MS-TCN++ over shuffled batches of feature sequences."""
    lr = architecture(config.architecture).optimiser.lr(config.batch_size) if config.lr is None else config.lr
    optimiser = torch.optim.Adam(model.tcn.parameters(), lr=lr)
    steps_per_epoch = -(-len(items) // config.batch_size)
    progress = Progress(steps_per_epoch * config.epochs_tcn, config.epochs_tcn, label="tcn")
    model.tcn.train()
    for epoch in range(config.epochs_tcn):
        order = rng.permutation(len(items))
        for start in range(0, len(items), config.batch_size):
            loss = tcn_loss(model, [items[i] for i in order[start : start + config.batch_size]])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            progress.step(epoch, loss.item())
    model.eval()


def score_tracks(
    model: HeatmapSegmenter, inputs: SegmenterInputs, sequences: Sequence[FrameSequence], classes: list[str],
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
) -> dict[str, Any]:  # fmt: skip
    """Accuracy, edit and F1@{10,25,50} in percent of the model (top level) and of the per-frame
    baseline (``per_frame_baseline``) on ``sequences``, every class a segment (:data:`BACKGROUND`).
    Unlabelled frames are left out of both the truth and the predictions."""
    truth, predicted, baseline = [], [], []
    for sequence in sequences:
        labelled = sequence.labels >= 0
        if not labelled.any():
            continue
        features = inputs.features(model, inputs.clean_view(sequence), chunk_frames)
        labels = segment_features(model, features, inputs.spec.tcn_window).argmax(dim=0).cpu().numpy()
        names = np.asarray(classes, dtype=object)
        truth.append(names[sequence.labels[labelled]].tolist())
        predicted.append(names[labels[labelled]].tolist())
        baseline.append(names[frame_baseline(model, features)[labelled]].tolist())
    if not truth:
        raise ValueError("no labelled frames to score")
    frames = sum(len(t) for t in truth)
    return {
        **_rounded(segmentation_scores(truth, predicted, BACKGROUND)),
        "per_frame_baseline": _rounded(segmentation_scores(truth, baseline, BACKGROUND)),
        "tracks": len(truth),
        "frames": frames,
    }


def frame_probabilities(
    model: HeatmapSegmenter, inputs: SegmenterInputs, sequences: Sequence[FrameSequence], chunk_frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """MS-TCN++'s last-stage probabilities ``(N, C)`` and the labels ``(N,)`` of every labelled frame."""
    probabilities, labels = [], []
    for sequence in sequences:
        labelled = sequence.labels >= 0
        if labelled.any():
            features = inputs.features(model, inputs.clean_view(sequence), chunk_frames)
            track = segment_features(model, features, inputs.spec.tcn_window).T.cpu().numpy()
            probabilities.append(track[labelled])
            labels.append(sequence.labels[labelled])
    if not labels:
        raise ValueError("no labelled frames to calibrate on")
    return np.concatenate(probabilities), np.concatenate(labels)


def calibrate(
    model: HeatmapSegmenter, validation: tuple[SegmenterInputs, Sequence[FrameSequence]],
    test: tuple[SegmenterInputs, Sequence[FrameSequence]], chunk_frames: int = DEFAULT_CHUNK_FRAMES,
) -> dict[str, float | int]:  # fmt: skip
    """Temperature scaling of the frame probabilities fitted on the validation tracks' frames, and
    the test frames' expected calibration error before and after it."""
    fitted, fitted_labels = frame_probabilities(model, *validation, chunk_frames)
    temperature = fit_temperature(fitted, fitted_labels)
    scored, labels = frame_probabilities(model, *test, chunk_frames)
    return {
        "temperature": round(temperature, 4),
        "validation_tracks": len(validation[1]),
        "validation_frames": len(fitted_labels),
        "ece_raw": round(expected_calibration_error(scored, labels), 4),
        "ece_calibrated": round(expected_calibration_error(with_temperature(scored, temperature), labels), 4),
    }


def parameters_by_part(model: HeatmapSegmenter) -> dict[str, int]:
    """Parameters of each of the model's parts (encoder, frame_head, tcn, ...) and in total."""
    parts = {name: sum(p.numel() for p in child.parameters()) for name, child in model.named_children()}
    parts = {name: count for name, count in parts.items() if count}
    return {**parts, "total": sum(parts.values())}


def _rounded(scores: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 2) for name, value in scores.items()}


def majority_rate(sequences: Sequence[FrameSequence], train_set: Sequence[FrameSequence]) -> float:
    """Frame accuracy (percent) of always predicting the training set's most frequent class."""
    train_labels = np.concatenate([s.labels[s.labels >= 0] for s in train_set])
    majority = np.bincount(train_labels).argmax()
    test_labels = np.concatenate([s.labels[s.labels >= 0] for s in sequences])
    return round(float((test_labels == majority).mean() * 100), 2)


def train(
    data: str, output: Path, config: SegmenterConfig, spec: SegmenterSpec, test_data: str | None = None,
    validation_data: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Train on ``data``'s tables in two steps (module doc) and evaluate on held-out tracks:
    ``test_data``'s when given, else those of ``config.test_fraction`` of ``data``'s videos. With
    ``validation_data``, a temperature for the frame probabilities is fitted on its tracks (the
    card's ``calibration``). Writes ``OUTPUT/<architecture>.safetensors`` and its card; returns it."""
    started = time.monotonic()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    sequences, classes = load_frame_sequences(data, data)
    spec = replace(spec, fps=frame_rate(data) or spec.fps)  # tracks are resampled to it at inference
    if test_data is None:
        train_set, test_set = split_by_video(sequences, config.test_fraction, config.seed)
    else:
        train_set = sequences
        test_set, _ = load_frame_sequences(test_data, test_data, classes=classes)
    if not train_set or not test_set:
        raise ValueError(f"{len(train_set)} training and {len(test_set)} held-out tracks: need both")
    sizes = f"{len(train_set)} training and {len(test_set)} held-out tracks, {len(classes)} classes"
    print(sizes, flush=True)
    inputs = segmenter_inputs(spec, config.architecture, data, [*train_set])
    model = build_segmenter(len(classes), spec).to(device())
    minutes: dict[str, float] = {}
    mark = time.monotonic()
    frames_per_epoch = fit_frames(model, inputs, train_set, config, rng)
    minutes["frames"], mark = (time.monotonic() - mark) / 60, time.monotonic()
    items = sequence_features(model, inputs, train_set, config, rng)
    minutes["features"], mark = (time.monotonic() - mark) / 60, time.monotonic()
    fit_tcn(model, items, config, rng)
    minutes["tcn"], mark = (time.monotonic() - mark) / 60, time.monotonic()
    test_inputs = segmenter_inputs(spec, config.architecture, test_data or data, test_set)
    metrics = score_tracks(model, test_inputs, test_set, classes, config.chunk_frames)
    minutes["evaluation"] = (time.monotonic() - mark) / 60
    metrics["majority_class_accuracy"] = majority_rate(test_set, train_set)
    calibration: dict[str, Any] | None = None
    if validation_data is not None:
        validation_set, _ = load_frame_sequences(validation_data, validation_data, classes=classes)
        validation_inputs = segmenter_inputs(spec, config.architecture, validation_data, validation_set)
        fitted = calibrate(model, (validation_inputs, validation_set), (test_inputs, test_set))
        calibration = {**fitted, "data": validation_data}
    lr = architecture(config.architecture).optimiser.lr(config.batch_size) if config.lr is None else config.lr
    training: dict[str, Any] = {**asdict(config), "lr": lr, "data": data}
    training |= {"test_data": test_data or f"{config.test_fraction:.0%} of the videos of data"}
    training |= {"train_tracks": len(train_set), "frames_per_epoch": frames_per_epoch}
    training |= {"schedule": SCHEDULE, "loss": LOSS}
    training |= {"step_minutes": {k: round(v, 2) for k, v in minutes.items()}}
    training["minutes"] = round((time.monotonic() - started) / 60, 1)
    card = {
        "architecture": config.architecture,
        **inputs.card_entries(),
        "classes": classes,
        "background": list(BACKGROUND),
        "layout": COCO17.name,
        "clip": spec.to_card(),
        "parameters": parameters_by_part(model),
        "training": training,
        "metrics": {"held_out": metrics},
        **({"calibration": calibration} if calibration else {}),
    }
    model.eval()
    return save_checkpoint(model.state_dict(), output / f"{config.architecture}.safetensors", card)


def evaluate(weights: str, data: str, chunk_frames: int = DEFAULT_CHUNK_FRAMES) -> dict[str, Any]:
    """Scores (:func:`score_tracks`) of a checkpoint on every labelled track of ``data`` (its
    classes, in its order)."""
    model, spec, card = load_segmenter(weights, device=str(device()))
    sequences, classes = load_frame_sequences(data, data, classes=card["classes"])
    inputs = segmenter_inputs(spec, card["architecture"], data, sequences)
    return score_tracks(model, inputs, sequences, classes, chunk_frames)
