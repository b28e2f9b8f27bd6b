"""Scores of model outputs against labels, as fractions in [0, 1].

Classification: top-1, top-5 and mean class accuracy with the confusion matrix
(:func:`classification_scores`), as PYSKL reports them. Calibration: the expected calibration
error (:func:`expected_calibration_error`, 15 equal-width confidence bins, Guo et al. 2017) and
temperature scaling of clip-averaged probabilities (:func:`fit_temperature`,
:func:`with_temperature`), docs/method.md §5.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ClassificationMetrics:
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


def classification_scores(
    probabilities: np.ndarray, labels: np.ndarray, num_classes: int
) -> ClassificationMetrics:
    """Scores of ``(N, classes)`` probabilities against ``(N,)`` integer labels."""
    ranked = np.argsort(-probabilities, axis=1)
    top1 = ranked[:, 0] == labels
    top5 = (ranked[:, :5] == labels[:, None]).any(axis=1)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (labels, ranked[:, 0]), 1)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    present = confusion.sum(axis=1) > 0
    return ClassificationMetrics(
        float(top1.mean()), float(top5.mean()), float(per_class[present].mean()), len(labels),
        confusion.tolist(),
    )  # fmt: skip


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """How far top-1 confidence is from top-1 accuracy: the clip-weighted mean over ``bins``
    equal-width confidence bins of |accuracy − mean confidence|."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    gap = 0.0
    for b in np.unique(which):
        inside = which == b
        gap += inside.sum() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(gap / max(len(labels), 1))


def with_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``(..., classes)`` probabilities sharpened (T < 1) or softened (T > 1):
    softmax(log p / T). T = 1 returns them unchanged."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.clip(probabilities, 1e-12, None)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    scaled: np.ndarray = np.exp(logits)
    return scaled / scaled.sum(axis=-1, keepdims=True)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.05, 20] that minimises the negative log-likelihood of ``labels``
    (a log-spaced grid, then a finer one around its best point)."""

    def nll(temperature: float) -> float:
        scaled = with_temperature(probabilities, temperature)
        return float(-np.log(np.clip(scaled[np.arange(len(labels)), labels], 1e-12, None)).mean())

    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 61))
    best = grid[int(np.argmin([nll(t) for t in grid]))]
    fine = best * np.exp(np.linspace(-0.1, 0.1, 41))
    return float(fine[int(np.argmin([nll(t) for t in fine]))])
