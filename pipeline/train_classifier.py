"""``posebeam train classifier`` and ``posebeam evaluate classifier`` (PoseC3D protocol, §2.7).

Training reads a ``keypoints`` table and ``clip_labels`` (``posebeam synth`` output or your own),
holds out a fraction of the *videos* (the same split as the baseline, same seed), and trains with
SGD (momentum 0.9, weight decay 3e-4, per-step cosine decay to 0, gradient norm clipped at 40) on
augmented clips. Evaluation averages softmax over ``num_clips`` test clips × the mirrored copy
(10 × 2 views by default) and reports top-1, top-5 and mean class accuracy, with a confusion matrix
PNG. The checkpoint is safetensors plus a model card (classes, layout, clip spec, metrics, sha256).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from posebeam.models.baseline import evaluate_clips, split_by_group
from posebeam.models.checkpoints import save_checkpoint
from posebeam.models.classifier import ARCHITECTURES, build_classifier, load_classifier
from posebeam.pipeline.datasets import ClipSample, load_clips
from posebeam.schemas.layouts import COCO17
from posebeam.transforms.clip_inputs import ClipSpec, eval_views, train_volume

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


@dataclass(frozen=True)
class Metrics:
    top1: float
    top5: float
    mean_class_accuracy: float
    num_clips: int
    confusion: list[list[int]]

    def summary(self) -> dict[str, float | int]:
        return {"top1": self.top1, "top5": self.top5, "mean_class_accuracy": self.mean_class_accuracy,
                "num_clips": self.num_clips}  # fmt: skip


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _split(samples: list[ClipSample], config: TrainConfig) -> tuple[list[ClipSample], list[ClipSample]]:
    test = split_by_group([s.video_id for s in samples], config.test_fraction, config.seed)
    held_out = [s for s, t in zip(samples, test, strict=True) if t]
    return [s for s, t in zip(samples, test, strict=True) if not t], held_out


@torch.no_grad()
def predict(
    model: nn.Module, samples: Sequence[ClipSample], spec: ClipSpec, num_clips: int, flip: bool = True
) -> np.ndarray:
    """``(N, classes)`` probabilities: softmax per view, averaged over the views of each clip."""
    model.eval()
    dev = next(model.parameters()).device
    out = []
    for sample in samples:
        views = torch.from_numpy(
            eval_views(sample.keypoints, sample.scores, spec, num_clips=num_clips, flip=flip)
        )
        out.append(torch.softmax(model(views.to(dev)), dim=1).mean(dim=0).cpu().numpy())
    return np.stack(out)


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


def train(data: str, output: Path, config: TrainConfig, spec: ClipSpec) -> dict[str, Any]:
    """Train on ``data``'s tables, evaluate on the held-out videos, write weights and card."""
    started = time.monotonic()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    samples, classes = load_clips(data, data, exclude=config.exclude)
    train_set, test_set = _split(samples, config)
    log.info("%d training and %d held-out clips, %d classes", len(train_set), len(test_set), len(classes))
    model = build_classifier(config.architecture, len(classes), spec.num_channels).to(device())
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
            volumes = np.stack([train_volume(s.keypoints, s.scores, spec, rng) for s in batch])
            labels = torch.tensor([s.label for s in batch], device=device())
            logits = model(torch.from_numpy(volumes).to(device()))
            loss = nn.functional.cross_entropy(logits, labels)
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
    metrics = score(
        predict(model, test_set, spec, config.eval_clips), np.array([s.label for s in test_set]), len(classes)
    )
    baseline = evaluate_clips(samples, len(classes), test_fraction=config.test_fraction, seed=config.seed)
    output.mkdir(parents=True, exist_ok=True)
    training = {k: v for k, v in asdict(config).items() if k != "exclude"}
    training |= {"data": data, "train_clips": len(train_set)}
    training["minutes"] = round((time.monotonic() - started) / 60, 1)
    card = {
        "architecture": config.architecture,
        "task": "skeleton action classification (one person per clip)",
        "classes": classes,
        "layout": COCO17.name,
        "clip": spec.to_card(),
        "sampling": f"UniformSampleFrames({spec.clip_len}); test: {config.eval_clips} clips x flip",
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
    spec = ClipSpec.from_card(card["clip"])
    samples, classes = load_clips(data, data, classes=card["classes"], exclude=("idle",))
    metrics = score(
        predict(model, samples, spec, num_clips, flip), np.array([s.label for s in samples]), len(classes)
    )
    if confusion_png is not None:
        plot_confusion(metrics, classes, confusion_png)
    return metrics


def metrics_json(metrics: Metrics) -> str:
    return json.dumps(metrics.summary())


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    defaults, spec = TrainConfig(), ClipSpec()
    parser.add_argument("data", metavar="TABLES", help="folder with keypoints and clip_labels tables")
    parser.add_argument(
        "output", metavar="OUTPUT", type=Path, help="folder for weights, card and confusion PNG"
    )
    parser.add_argument("--architecture", default=defaults.architecture, choices=sorted(ARCHITECTURES))
    for name in ("epochs", "batch_size", "seed", "eval_clips"):
        parser.add_argument(
            f"--{name.replace('_', '-')}", dest=name, type=int, default=getattr(defaults, name)
        )
    for name in ("lr", "weight_decay", "test_fraction"):
        parser.add_argument(
            f"--{name.replace('_', '-')}", dest=name, type=float, default=getattr(defaults, name)
        )
    for name in ("clip_len", "train_size", "test_size"):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, default=getattr(spec, name))
    parser.add_argument("--sigma", type=float, default=spec.sigma)
    parser.add_argument("--channels", default=spec.channels, choices=("joints", "limbs"))


def run_train(args: argparse.Namespace) -> str:
    config_names = {f.name for f in fields(TrainConfig)} - {"exclude"}
    config = TrainConfig(**{k: v for k, v in vars(args).items() if k in config_names})
    spec = ClipSpec(**{k: v for k, v in vars(args).items() if k in {f.name for f in fields(ClipSpec)}})
    card = train(args.data, args.output, config, spec)
    return f"held-out {json.dumps(card['metrics'])}; weights in {args.output}"


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("weights", metavar="WEIGHTS", help="a .safetensors classifier with its model card")
    parser.add_argument("data", metavar="TABLES", help="folder with keypoints and clip_labels tables")
    parser.add_argument("--clips", type=int, default=10, help="test clips per sample (default: %(default)s)")
    parser.add_argument(
        "--no-flip", dest="flip", action="store_false", help="do not average the mirrored views"
    )
    parser.add_argument("--confusion", type=Path, default=None, help="write the confusion matrix PNG here")


def run_evaluate(args: argparse.Namespace) -> str:
    return metrics_json(evaluate(args.weights, args.data, args.clips, args.flip, args.confusion))
