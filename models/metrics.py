"""Scores of model outputs against labels.

Classification, as fractions in [0, 1]: top-1, top-5 and mean class accuracy with the confusion
matrix (:func:`classification_scores`), as PYSKL reports them. Calibration: the expected
calibration error (:func:`expected_calibration_error`, 15 equal-width confidence bins, Guo et al.
2017) and temperature scaling of clip-averaged probabilities (:func:`fit_temperature`,
:func:`with_temperature`), docs/method.md §5.

Action segmentation, in percent as published tables print them: frame accuracy, edit score and
F1@{10, 25, 50} (:func:`segmentation_scores`) with the semantics of MS-TCN's ``eval.py``
(github.com/yabufarha/ms-tcn, also copied in github.com/sj-li/MS-TCN2), docs/method.md §6.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

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


# --- action segmentation (MS-TCN eval.py semantics) ---

FrameLabels = Sequence[Hashable] | np.ndarray
"""One video's label per frame: strings or integers."""

Segment = tuple[Hashable, int, int]
"""``(label, start, end)``: frames ``start`` to ``end − 1`` (the end is exclusive)."""

SEGMENT_OVERLAPS = (0.10, 0.25, 0.50)


def label_segments(labels: FrameLabels, background: Collection[Hashable] = ()) -> list[Segment]:
    """The runs of equal labels in temporal order, ends exclusive, runs of ``background`` labels
    left out (eval.py ``get_labels_start_end_time`` with ms-tcn's final end ``len(labels)``)."""
    labels = labels.tolist() if isinstance(labels, np.ndarray) else labels
    segments: list[Segment] = []
    start = 0
    for t in range(1, len(labels) + 1):
        if t == len(labels) or labels[t] != labels[start]:
            if labels[start] not in background:
                segments.append((labels[start], start, t))
            start = t
    return segments


def _edit_score(predicted: list[Segment], truth: list[Segment]) -> float:
    """100 × (1 − Levenshtein distance / the longer length) between the two sequences of segment
    labels; 100 when both are empty (eval.py divides by zero there)."""
    p, y = [s[0] for s in predicted], [s[0] for s in truth]
    if not p and not y:
        return 100.0
    row = list(range(len(y) + 1))
    for i in range(1, len(p) + 1):
        diagonal, row[0] = row[0], i
        for j in range(1, len(y) + 1):
            cost = diagonal if p[i - 1] == y[j - 1] else min(row[j], row[j - 1], diagonal) + 1
            diagonal, row[j] = row[j], cost
    return (1 - row[-1] / max(len(p), len(y))) * 100


def _f1_counts(predicted: list[Segment], truth: list[Segment], overlap: float) -> tuple[int, int, int]:
    """(tp, fp, fn) at IoU ``overlap``, as eval.py ``f_score`` counts them: each predicted segment
    in temporal order takes the first ground-truth segment of highest IoU (0 for another label);
    a true positive if that IoU ≥ ``overlap`` and the segment is not yet taken, a false positive
    otherwise (no second choice). With no ground-truth segment every prediction is a false positive
    (eval.py fails there)."""
    taken = [False] * len(truth)
    tp = fp = 0
    for label, start, end in predicted:
        iou = [
            (min(end, t_end) - max(start, t_start)) / (max(end, t_end) - min(start, t_start))
            if t_label == label
            else 0.0
            for t_label, t_start, t_end in truth
        ]
        best = int(np.argmax(iou)) if iou else -1
        if best >= 0 and iou[best] >= overlap and not taken[best]:
            tp += 1
            taken[best] = True
        else:
            fp += 1
    return tp, fp, len(truth) - sum(taken)


def _f1(tp: int, fp: int, fn: int) -> float:
    """F1 in percent from summed counts; 0 when there is no true positive (eval.py's nan_to_num)."""
    if tp == 0:
        return 0.0
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return 2.0 * (precision * recall) / (precision + recall) * 100


def _videos(labels: FrameLabels | Sequence[FrameLabels]) -> list[list[Hashable]]:
    """A list of videos' frame labels from one video's labels or a list of videos'."""
    items: list[Any] = labels.tolist() if isinstance(labels, np.ndarray) else list(labels)
    if not items:
        raise ValueError("no frames to score")
    one_video = isinstance(items[0], str) or not isinstance(items[0], Sequence | np.ndarray)
    if one_video:
        return [items]
    return [video.tolist() if isinstance(video, np.ndarray) else list(video) for video in items]


def segmentation_scores(
    ground_truth: FrameLabels | Sequence[FrameLabels],
    prediction: FrameLabels | Sequence[FrameLabels],
    background: Collection[Hashable] = ("background",),
) -> dict[str, float]:
    """Frame accuracy, edit score and F1@{10, 25, 50}, in percent, as MS-TCN's ``eval.py`` reports
    them for a test set.

    ``ground_truth`` and ``prediction`` are one video's labels per frame (strings or integers), or
    lists of several videos' labels matched by position; each prediction is as long as its video.
    Keys: ``accuracy``, correct frames / all frames of all videos (background included); ``edit``,
    the mean over videos of the edit score of the segment label sequences; ``f1@10``, ``f1@25``,
    ``f1@50``, F1 from true/false positives and false negatives summed over all videos. Segments of
    a label in ``background`` count in accuracy only.
    """
    truths, predictions = _videos(ground_truth), _videos(prediction)
    if len(truths) != len(predictions):
        raise ValueError(f"{len(truths)} ground-truth videos but {len(predictions)} predictions")
    correct = total = 0
    edit = 0.0
    counts = np.zeros((len(SEGMENT_OVERLAPS), 3), dtype=np.int64)
    for number, (truth, predicted) in enumerate(zip(truths, predictions, strict=True)):
        if len(truth) != len(predicted) or not truth:
            raise ValueError(f"video {number}: {len(truth)} labelled frames but {len(predicted)} predicted")
        correct += sum(t == p for t, p in zip(truth, predicted, strict=True))
        total += len(truth)
        truth_segments = label_segments(truth, background)
        predicted_segments = label_segments(predicted, background)
        edit += _edit_score(predicted_segments, truth_segments)
        for k, overlap in enumerate(SEGMENT_OVERLAPS):
            counts[k] += _f1_counts(predicted_segments, truth_segments, overlap)
    scores = {"accuracy": 100 * correct / total, "edit": edit / len(truths)}
    for (tp, fp, fn), overlap in zip(counts.tolist(), SEGMENT_OVERLAPS, strict=True):
        scores[f"f1@{round(overlap * 100)}"] = _f1(tp, fp, fn)
    return scores
