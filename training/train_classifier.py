"""Training and evaluation of classifiers (the PoseC3D protocol, docs/method.md §5).

Training reads a ``keypoints`` table and ``clip_labels`` (``posebeam synth`` output or your own),
holds out a fraction of the *videos* (the same split as the baseline, same seed), and trains with
SGD (momentum 0.9, per-step cosine decay to 0, gradient norm clipped at 40) on augmented clips.
The learning rate and weight decay default to the architecture's registry entry
(:mod:`posebeam.models.registry`), which also names the class that builds its inputs: skeleton
models (:class:`~posebeam.training.classifier_inputs.PoseInputs`) average softmax over
``num_clips`` test clips × the mirrored copy (10 × 2 views by default); ``rgbpose_conv3d``
(:class:`~posebeam.training.rgbpose_inputs.RGBPoseInputs`) also decodes each clip's sampled frames
from the ``videos`` table's files and is scored by the 1:1 fusion of its streams, each stream's
top-1 reported too. Metrics are top-1, top-5 and
mean class accuracy, with a confusion matrix PNG. The checkpoint is safetensors plus a model card
(classes, layout, clip spec, training config, metrics, sha256).
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
from torch import nn

from posebeam.models.checkpoints import save_checkpoint
from posebeam.models.classifier import build_classifier, load_classifier
from posebeam.models.metrics import (
    ClassificationMetrics,
    classification_scores,
    expected_calibration_error,
    fit_temperature,
    with_temperature,
)
from posebeam.models.registry import architecture, load_object
from posebeam.schemas.layouts import COCO17
from posebeam.training.baseline import fit_and_score_clips
from posebeam.training.classifier_inputs import ClipInputs
from posebeam.training.datasets import ClipSample, load_clips
from posebeam.training.progress import Progress
from posebeam.training.splits import split_by_video
from posebeam.transforms.clip_inputs import CardSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Training settings. ``lr`` and ``weight_decay`` None take the architecture's registry defaults
    (:meth:`resolved`)."""

    architecture: str = "pose_slowonly"
    epochs: int = 4
    batch_size: int = 8
    lr: float | None = None
    weight_decay: float | None = None
    max_grad_norm: float = 40.0
    test_fraction: float = 0.3
    validation_fraction: float = 0.15
    seed: int = 0
    eval_clips: int = 10
    exclude: tuple[str, ...] = ("idle",)

    def resolved(self) -> TrainConfig:
        """This config with the architecture's optimiser defaults filled in: the learning rate per
        clip scaled linearly to ``batch_size``, and its weight decay."""
        optimiser = architecture(self.architecture).optimiser
        lr = optimiser.lr(self.batch_size) if self.lr is None else self.lr
        decay = optimiser.weight_decay if self.weight_decay is None else self.weight_decay
        return replace(self, lr=lr, weight_decay=decay)


SCHEDULE = "SGD momentum 0.9, cosine decay per step to 0, no warm-up"


def clip_inputs(spec: CardSpec, name: str, data: str, samples: Sequence[ClipSample]) -> ClipInputs:
    """The training inputs the registry names for architecture ``name``."""
    inputs_class: type[ClipInputs] = load_object(architecture(name).training_inputs)
    return inputs_class.for_samples(spec, data, samples)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


INFERENCE_VIEWS = (1, True)
"""The views ``posebeam run`` averages per clip (one clip and its mirror): temperature and
calibration error are measured on them."""


def calibrate(
    model: nn.Module, validation: tuple[ClipInputs, Sequence[ClipSample]],
    test: tuple[ClipInputs, Sequence[ClipSample]],
) -> dict[str, float | int | str]:  # fmt: skip
    """Temperature scaling fitted on the validation clips, and the test clips' expected calibration
    error before and after it, all on :data:`INFERENCE_VIEWS`."""
    num_clips, flip = INFERENCE_VIEWS
    fitted = validation[0].predict(model, validation[1], num_clips, flip).probabilities
    temperature = fit_temperature(fitted, np.array([s.label for s in validation[1]]))
    scored = test[0].predict(model, test[1], num_clips, flip).probabilities
    labels = np.array([s.label for s in test[1]])
    return {
        "temperature": temperature,
        "validation_clips": len(validation[1]),
        "views": f"{INFERENCE_VIEWS[0]} clip x flip",
        "test_top1": float((scored.argmax(axis=1) == labels).mean()),
        "ece_raw": expected_calibration_error(scored, labels),
        "ece_calibrated": expected_calibration_error(with_temperature(scored, temperature), labels),
    }


def plot_confusion(metrics: ClassificationMetrics, classes: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    confusion = np.asarray(metrics.confusion, dtype=float)
    normalised = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(classes), 0.8 + 0.5 * len(classes)))
    ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for (row, col), count in np.ndenumerate(confusion):
        if count:
            ax.text(col, row, str(int(count)), ha="center", va="center", fontsize=7,
                    color="white" if normalised[row, col] > 0.5 else "black")  # fmt: skip
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"top-1 {metrics.top1:.1%} on {metrics.num_clips} held-out clips")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def per_class_accuracy(metrics: ClassificationMetrics, classes: list[str]) -> dict[str, float]:
    """Top-1 accuracy of each class that has held-out clips (the confusion matrix's diagonal)."""
    confusion = np.asarray(metrics.confusion)
    totals = confusion.sum(axis=1)
    return {c: round(float(confusion[i, i] / totals[i]), 4) for i, c in enumerate(classes) if totals[i]}


def evaluate_samples(
    inputs: ClipInputs, model: nn.Module, samples: Sequence[ClipSample], num_classes: int, num_clips: int,
    flip: bool,
) -> ClassificationMetrics:  # fmt: skip
    """Scores of the (fused) probabilities, with each stream's top-1 where there are several."""
    predictions = inputs.predict(model, samples, num_clips, flip)
    labels = np.array([s.label for s in samples])
    metrics = classification_scores(predictions.probabilities, labels, num_classes)
    streams = {
        name: classification_scores(p, labels, num_classes).top1 for name, p in predictions.streams.items()
    }
    return ClassificationMetrics(**{**asdict(metrics), "stream_top1": streams})


def fit(
    model: nn.Module, train_set: list[ClipSample], config: TrainConfig, inputs: ClipInputs,
    rng: np.random.Generator, started: float,
) -> None:  # fmt: skip
    """``config.epochs`` of SGD over shuffled batches, printing progress every 10 steps."""
    assert config.lr is not None and config.weight_decay is not None, "fit() takes a resolved config"
    optimiser = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=0.9, weight_decay=config.weight_decay
    )
    steps_per_epoch = len(train_set) // config.batch_size
    total = steps_per_epoch * config.epochs
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(total, 1), eta_min=0.0)
    progress = Progress(total, config.epochs, started=started)
    for epoch in range(config.epochs):
        model.train()
        order = rng.permutation(len(train_set))
        for batch_start in range(0, steps_per_epoch * config.batch_size, config.batch_size):
            batch = [train_set[i] for i in order[batch_start : batch_start + config.batch_size]]
            loss = inputs.loss(model, batch, rng)
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimiser.step()
            schedule.step()
            progress.step(epoch, loss.item())


def train(
    data: str, output: Path, config: TrainConfig, spec: CardSpec, test_data: str | None = None,
    validation_data: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Train on ``data``'s tables and evaluate on held-out clips: ``test_data``'s when given (e.g.
    ``posebeam synth --split test``), else those of ``config.test_fraction`` of ``data``'s videos.
    The temperature is fitted on ``validation_data``'s clips when given (e.g. held-out captures
    filmed with another seed), else on a ``validation_fraction`` of the training videos kept out
    of training. Writes weights and card."""
    started = time.monotonic()
    config = config.resolved()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    samples, classes = load_clips(data, data, exclude=config.exclude)
    if test_data is None:
        train_set, test_set = split_by_video(samples, config.test_fraction, config.seed)
    else:
        train_set = samples
        test_set, _ = load_clips(test_data, test_data, classes=classes, exclude=config.exclude)
    inputs = clip_inputs(spec, config.architecture, data, samples)
    if validation_data is None:
        train_set, validation = split_by_video(train_set, config.validation_fraction, config.seed + 1)
        validation_inputs = inputs
    else:
        validation, _ = load_clips(validation_data, validation_data, classes=classes, exclude=config.exclude)
        validation_inputs = clip_inputs(spec, config.architecture, validation_data, validation)
    log.info("%d training and %d held-out clips, %d classes", len(train_set), len(test_set), len(classes))
    model = build_classifier(config.architecture, len(classes), spec.num_channels).to(device())
    fit(model, train_set, config, inputs, rng, started)
    test_inputs = inputs if test_data is None else clip_inputs(spec, config.architecture, test_data, test_set)
    metrics = evaluate_samples(test_inputs, model, test_set, len(classes), config.eval_clips, flip=True)
    calibration = calibrate(model, (validation_inputs, validation), (test_inputs, test_set))
    baseline = fit_and_score_clips(train_set if validation_data else train_set + validation, test_set,
                                   len(classes))  # fmt: skip
    output.mkdir(parents=True, exist_ok=True)
    training = {k: v for k, v in asdict(config).items() if k != "exclude"}
    entries = inputs.card_entries(config.eval_clips)
    training |= {"data": data, "test_data": test_data or f"{config.test_fraction:.0%} of the videos of data"}
    training |= {
        "validation_data": validation_data or f"{config.validation_fraction:.0%} of the training videos"
    }
    training |= {"train_clips": len(train_set), "schedule": SCHEDULE}
    training |= {"loss": entries.pop("loss", "cross-entropy")}
    training["minutes"] = round((time.monotonic() - started) / 60, 1)
    card = {
        "architecture": config.architecture,
        **entries,
        "classes": classes,
        "layout": COCO17.name,
        "clip": spec.to_card(),
        "training": training,
        "calibration": {"temperature": calibration.pop("temperature")},
        "metrics": {
            "held_out": metrics.summary() | {"per_class_accuracy": per_class_accuracy(metrics, classes)},
            "calibration": calibration,
            "baseline_logistic_regression_top1": baseline.test_accuracy,
            "baseline_logistic_regression_mean_class_accuracy": baseline.mean_class_accuracy,
            "chance": baseline.chance,
        },
    }
    weights = output / f"{config.architecture}.safetensors"
    card = save_checkpoint(model.state_dict(), weights, card)
    plot_confusion(metrics, classes, output / "confusion.png")
    return card


def evaluate(
    weights: str, data: str, num_clips: int, flip: bool, confusion_png: Path | None
) -> ClassificationMetrics:
    """Evaluate a checkpoint on every labelled clip of ``data`` (its classes, in its order)."""
    model, card = load_classifier(weights, device=str(device()))
    spec = architecture(card["architecture"]).spec.from_card(card["clip"])
    samples, classes = load_clips(data, data, classes=card["classes"], exclude=("idle",))
    inputs = clip_inputs(spec, card["architecture"], data, samples)
    metrics = evaluate_samples(inputs, model, samples, len(classes), num_clips, flip)
    if confusion_png is not None:
        plot_confusion(metrics, classes, confusion_png)
    return metrics
