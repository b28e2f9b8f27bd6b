"""Scores of model outputs against labels, as fractions in [0, 1].

Classification: top-1, top-5 and mean class accuracy with the confusion matrix
(:func:`classification_scores`), as PYSKL reports them.
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
