"""``posebeam train classifier`` and ``posebeam evaluate classifier`` (PoseC3D protocol, §2.6–§2.7).

Training reads a ``keypoints`` table and ``clip_labels`` (``posebeam synth`` output or your own),
holds out a fraction of the *videos* (the same split as the baseline, same seed), and trains with
SGD (momentum 0.9, per-step cosine decay to 0, gradient norm clipped at 40) on augmented clips.
Skeleton models (:class:`PoseInputs`) use weight decay 3e-4; evaluation averages softmax over
``num_clips`` test clips × the mirrored copy (10 × 2 views by default). ``rgbpose_conv3d``
(:class:`~posebeam.pipeline.train_rgbpose.RGBPoseInputs`) also decodes each clip's sampled frames
from the ``videos`` table's files, uses weight decay 1e-4 and lr 0.0075 per 48 clips, and is scored
by the 1:1 fusion of its streams, each stream's top-1 reported too. Metrics are top-1, top-5 and
mean class accuracy, with a confusion matrix PNG. The checkpoint is safetensors plus a model card
(classes, layout, clip spec, training config, metrics, sha256).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from posebeam.models.baseline import evaluate_clips, split_by_group
from posebeam.models.checkpoints import save_checkpoint
from posebeam.models.classifier import ARCHITECTURES, RGBPOSE_ARCHITECTURE, build_classifier, load_classifier
from posebeam.models.rgbpose import clip_averaged_softmax
from posebeam.pipeline.datasets import ClipSample, load_clips
from posebeam.pipeline.inputs import UsageError
from posebeam.pipeline.train_rgbpose import Predictions, RGBPoseInputs, sample_labels, video_uris
from posebeam.schemas.layouts import COCO17
from posebeam.transforms.clip_inputs import CardSpec, ClipSpec, eval_views, train_volume
from posebeam.transforms.rgb_inputs import RGBPoseSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    architecture: str = "pose_slowonly"
    epochs: int = 4
    batch_size: int = 8
    lr: float = 0.4 * 8 / 256  # PYSKL's 0.4 for 256 clips, scaled linearly
    weight_decay: float = 3e-4
    max_grad_norm: float = 40.0
    test_fraction: float = 0.3
    seed: int = 0
    eval_clips: int = 10
    exclude: tuple[str, ...] = ("idle",)

    @classmethod
    def for_architecture(cls, architecture: str, **overrides: Any) -> TrainConfig:
        """``architecture``'s optimiser defaults, then ``overrides``: RGBPose-Conv3D takes weight
        decay 1e-4 and pyskl's lr 0.0075 for 48 clips, scaled linearly to the batch size."""
        defaults: dict[str, Any] = {}
        if architecture == RGBPOSE_ARCHITECTURE:
            batch_size = overrides.get("batch_size", cls.batch_size)
            defaults = {"lr": 0.0075 * batch_size / 48, "weight_decay": 1e-4}
        return cls(architecture=architecture, **(defaults | overrides))


SCHEDULE = "SGD momentum 0.9, cosine decay per step to 0, no warm-up"
SPEC_TYPES: tuple[type[CardSpec], ...] = (ClipSpec, RGBPoseSpec)


def spec_type(architecture: str) -> type[CardSpec]:
    """The clip spec of ``architecture``: RGBPoseSpec for RGBPose-Conv3D, else ClipSpec."""
    return RGBPoseSpec if architecture == RGBPOSE_ARCHITECTURE else ClipSpec


@dataclass(frozen=True)
class Metrics:
    top1: float
    top5: float
    mean_class_accuracy: float
    num_clips: int
    confusion: list[list[int]]
    stream_top1: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, float | int]:
        streams = {f"{name}_top1": top1 for name, top1 in self.stream_top1.items()}
        return {"top1": self.top1, "top5": self.top5, "mean_class_accuracy": self.mean_class_accuracy,
                "num_clips": self.num_clips, **streams}  # fmt: skip


class ClipInputs(Protocol):
    """How an architecture's clips become a training loss and test probabilities."""

    def card_entries(self, eval_clips: int) -> dict[str, Any]: ...

    def loss(
        self, model: nn.Module, batch: Sequence[ClipSample], rng: np.random.Generator
    ) -> torch.Tensor: ...

    def predict(
        self, model: nn.Module, samples: Sequence[ClipSample], num_clips: int, flip: bool
    ) -> Predictions: ...


@dataclass(frozen=True)
class PoseInputs:
    """Skeleton models: augmented heatmap volumes, cross-entropy; test views × flip."""

    spec: ClipSpec

    def card_entries(self, eval_clips: int) -> dict[str, Any]:
        return {
            "task": "skeleton action classification (one person per clip)",
            "sampling": f"UniformSampleFrames({self.spec.clip_len}); test: {eval_clips} clips x flip",
        }

    def loss(self, model: nn.Module, batch: Sequence[ClipSample], rng: np.random.Generator) -> torch.Tensor:
        volumes = np.stack([train_volume(s.keypoints, s.scores, self.spec, rng) for s in batch])
        dev = next(model.parameters()).device
        return nn.functional.cross_entropy(
            model(torch.from_numpy(volumes).to(dev)), sample_labels(batch, dev)
        )

    @torch.no_grad()
    def predict(
        self, model: nn.Module, samples: Sequence[ClipSample], num_clips: int, flip: bool
    ) -> Predictions:
        """``(N, classes)`` probabilities: softmax per view, averaged over the views of each clip."""
        model.eval()
        dev = next(model.parameters()).device
        out = []
        for sample in samples:
            views = eval_views(sample.keypoints, sample.scores, self.spec, num_clips=num_clips, flip=flip)
            out.append(
                clip_averaged_softmax(model(torch.from_numpy(views).to(dev)), len(views))[0].cpu().numpy()
            )
        return Predictions(np.stack(out), {})


def clip_inputs(spec: CardSpec, data: str, samples: Sequence[ClipSample]) -> ClipInputs:
    """The inputs for ``spec``'s architecture; RGBPose checks the samples' videos in ``data`` first."""
    if isinstance(spec, RGBPoseSpec):
        return RGBPoseInputs(spec, video_uris(data, samples))
    assert isinstance(spec, ClipSpec)
    return PoseInputs(spec)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _split(samples: list[ClipSample], config: TrainConfig) -> tuple[list[ClipSample], list[ClipSample]]:
    test = split_by_group([s.video_id for s in samples], config.test_fraction, config.seed)
    held_out = [s for s, t in zip(samples, test, strict=True) if t]
    return [s for s, t in zip(samples, test, strict=True) if not t], held_out


def score(probabilities: np.ndarray, labels: np.ndarray, num_classes: int) -> Metrics:
    ranked = np.argsort(-probabilities, axis=1)
    top1 = ranked[:, 0] == labels
    top5 = (ranked[:, :5] == labels[:, None]).any(axis=1)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (labels, ranked[:, 0]), 1)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    present = confusion.sum(axis=1) > 0
    return Metrics(float(top1.mean()), float(top5.mean()), float(per_class[present].mean()), len(labels),
                   confusion.tolist())  # fmt: skip


def plot_confusion(metrics: Metrics, classes: list[str], path: Path) -> None:
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


def evaluate_samples(
    inputs: ClipInputs, model: nn.Module, samples: Sequence[ClipSample], num_classes: int, num_clips: int,
    flip: bool,
) -> Metrics:  # fmt: skip
    """Scores of the (fused) probabilities, with each stream's top-1 where there are several."""
    predictions = inputs.predict(model, samples, num_clips, flip)
    labels = np.array([s.label for s in samples])
    metrics = score(predictions.probabilities, labels, num_classes)
    streams = {name: score(p, labels, num_classes).top1 for name, p in predictions.streams.items()}
    return Metrics(**{**asdict(metrics), "stream_top1": streams})


def fit(
    model: nn.Module, train_set: list[ClipSample], config: TrainConfig, inputs: ClipInputs,
    rng: np.random.Generator, started: float,
) -> None:  # fmt: skip
    """``config.epochs`` of SGD over shuffled batches, printing progress every 10 steps."""
    optimiser = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=0.9, weight_decay=config.weight_decay
    )
    steps_per_epoch = len(train_set) // config.batch_size
    total = steps_per_epoch * config.epochs
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(total, 1), eta_min=0.0)
    step = 0
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
            step += 1
            if step % 10 == 0 or step == total:
                elapsed = time.monotonic() - started
                eta_min = elapsed / step * (total - step) / 60
                progress = f"epoch {epoch + 1}/{config.epochs} step {step}/{total}"
                print(f"{progress} loss {loss.item():.3f} eta {eta_min:.1f} min", flush=True)


def train(data: str, output: Path, config: TrainConfig, spec: CardSpec) -> dict[str, Any]:
    """Train on ``data``'s tables, evaluate on the held-out videos, write weights and card."""
    started = time.monotonic()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    samples, classes = load_clips(data, data, exclude=config.exclude)
    train_set, test_set = _split(samples, config)
    inputs = clip_inputs(spec, data, samples)
    log.info("%d training and %d held-out clips, %d classes", len(train_set), len(test_set), len(classes))
    model = build_classifier(config.architecture, len(classes), spec.num_channels).to(device())
    fit(model, train_set, config, inputs, rng, started)
    metrics = evaluate_samples(inputs, model, test_set, len(classes), config.eval_clips, flip=True)
    baseline = evaluate_clips(samples, len(classes), test_fraction=config.test_fraction, seed=config.seed)
    output.mkdir(parents=True, exist_ok=True)
    training = {k: v for k, v in asdict(config).items() if k != "exclude"}
    entries = inputs.card_entries(config.eval_clips)
    training |= {"data": data, "train_clips": len(train_set), "schedule": SCHEDULE}
    training |= {"loss": entries.pop("loss", "cross-entropy")}
    training["minutes"] = round((time.monotonic() - started) / 60, 1)
    card = {
        "architecture": config.architecture,
        **entries,
        "classes": classes,
        "layout": COCO17.name,
        "clip": spec.to_card(),
        "training": training,
        "metrics": {
            "held_out": metrics.summary(),
            "baseline_logistic_regression_top1": baseline.test_accuracy,
            "chance": baseline.chance,
        },
    }
    weights = output / f"{config.architecture}.safetensors"
    card = save_checkpoint(model.state_dict(), weights, card)
    plot_confusion(metrics, classes, output / "confusion.png")
    return card


def evaluate(weights: str, data: str, num_clips: int, flip: bool, confusion_png: Path | None) -> Metrics:
    """Evaluate a checkpoint on every labelled clip of ``data`` (its classes, in its order)."""
    model, card = load_classifier(weights, device=str(device()))
    spec = spec_type(card["architecture"]).from_card(card["clip"])
    samples, classes = load_clips(data, data, classes=card["classes"], exclude=("idle",))
    inputs = clip_inputs(spec, data, samples)
    metrics = evaluate_samples(inputs, model, samples, len(classes), num_clips, flip)
    if confusion_png is not None:
        plot_confusion(metrics, classes, confusion_png)
    return metrics


def metrics_json(metrics: Metrics) -> str:
    return json.dumps(metrics.summary())


def _spec_fields() -> dict[str, dict[type[CardSpec], Any]]:
    """Every clip spec field's default per spec type that has it (``sigma`` is in both)."""
    found: dict[str, dict[type[CardSpec], Any]] = {}
    for spec_class in SPEC_TYPES:
        for spec_field in fields(spec_class):
            found.setdefault(spec_field.name, {})[spec_class] = spec_field.default
    return found


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    defaults, rgbpose = TrainConfig(), TrainConfig.for_architecture(RGBPOSE_ARCHITECTURE)
    tables = "folder with keypoints and clip_labels tables"
    parser.add_argument("data", metavar="TABLES", help=f"{tables} ({RGBPOSE_ARCHITECTURE}: and videos)")
    parser.add_argument(
        "output", metavar="OUTPUT", type=Path, help="folder for weights, card and confusion PNG"
    )
    parser.add_argument(
        "--architecture",
        default=defaults.architecture,
        choices=sorted([*ARCHITECTURES, RGBPOSE_ARCHITECTURE]),
    )
    for name in ("epochs", "batch_size", "seed", "eval_clips"):
        parser.add_argument(
            f"--{name.replace('_', '-')}", dest=name, type=int, default=getattr(defaults, name)
        )
    parser.add_argument("--test-fraction", dest="test_fraction", type=float, default=defaults.test_fraction)
    parser.add_argument("--lr", type=float, default=None, help=f"default: {defaults.lr:g}; "
                        f"{RGBPOSE_ARCHITECTURE}: 0.0075 × batch size / 48")  # fmt: skip
    parser.add_argument(
        "--weight-decay", dest="weight_decay", type=float, default=None,
        help=f"default: {defaults.weight_decay:g}; {RGBPOSE_ARCHITECTURE}: {rgbpose.weight_decay:g}",
    )  # fmt: skip
    names = {ClipSpec: "skeleton models", RGBPoseSpec: RGBPOSE_ARCHITECTURE}
    for name, per_type in _spec_fields().items():
        shown = "; ".join(f"{names[t]}: {default}" for t, default in per_type.items())
        first = next(iter(per_type.values()))
        choices = ("joints", "limbs") if name == "channels" else None
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=type(first), default=None,
                            choices=choices, help=f"clip spec (default: {shown})")  # fmt: skip


def run_train(args: argparse.Namespace) -> str:
    given = {k: v for k, v in vars(args).items() if v is not None}
    config_names = {f.name for f in fields(TrainConfig)} - {"exclude", "architecture"}
    config = TrainConfig.for_architecture(
        args.architecture, **{k: v for k, v in given.items() if k in config_names}
    )
    spec_class = spec_type(args.architecture)
    spec_names = {f.name for f in fields(spec_class)}
    foreign = sorted(given.keys() & _spec_fields().keys() - spec_names)
    if foreign:
        raise UsageError(f"--{foreign[0].replace('_', '-')} does not apply to {args.architecture}")
    card = train(
        args.data, args.output, config, spec_class(**{k: given[k] for k in given.keys() & spec_names})
    )
    return f"held-out {json.dumps(card['metrics'])}; weights in {args.output}"


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("weights", metavar="WEIGHTS", help="a .safetensors classifier with its model card")
    parser.add_argument("data", metavar="TABLES", help="folder with keypoints and clip_labels tables")
    parser.add_argument("--clips", type=int, default=10, help="test clips per sample (default: %(default)s)")
    parser.add_argument(
        "--no-flip",
        dest="flip",
        action="store_false",
        help=f"do not average the mirrored views ({RGBPOSE_ARCHITECTURE} never does, as pyskl)",
    )
    parser.add_argument("--confusion", type=Path, default=None, help="write the confusion matrix PNG here")


def run_evaluate(args: argparse.Namespace) -> str:
    return metrics_json(evaluate(args.weights, args.data, args.clips, args.flip, args.confusion))
