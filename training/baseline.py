"""The keypoint baseline: logistic regression on normalised raw COCO-17 keypoints.

The row every learned model must beat (docs/method.md §5). Features of a clip:
centre every frame's joints on the clip's hip mid-point, divide by its torso length (hip mid-point
to shoulder mid-point; medians over the frames that show them), sample ``frames`` frames uniformly
over the clip, set missing joints (score 0) to the centre, and flatten to ``frames × 17 × 2`` values.
A standardiser and scikit-learn's ``LogisticRegression`` (L2, C = 1) classify them. The split is by
video, so persons of one video never sit on both sides.

    python -m posebeam.training.baseline TABLES [--frames 16] [--test-fraction 0.3] [--seed 0]

reads ``TABLES/keypoints`` and ``TABLES/clip_labels`` (e.g. ``posebeam synth`` output) and prints
held-out accuracy next to chance.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from posebeam.training.datasets import ClipSample, load_clips
from posebeam.training.splits import split_by_group

HIPS, SHOULDERS = (11, 12), (5, 6)


def normalise_pose(keypoints: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``(T, 17, 2)`` pixels and ``(T, 17)`` scores → ``(T, 17, 2)`` in torso lengths from the hip
    mid-point (one centre and scale for the whole clip; missing joints at 0)."""
    kp = np.asarray(keypoints, dtype=np.float64)
    seen = np.asarray(scores) > 0
    hips_ok = seen[:, HIPS].all(axis=1)
    both_ok = hips_ok & seen[:, SHOULDERS].all(axis=1)
    hip_mid = kp[:, HIPS].mean(axis=1)
    centre = np.median(hip_mid[hips_ok], axis=0) if hips_ok.any() else np.zeros(2)
    torso = np.linalg.norm(kp[:, SHOULDERS].mean(axis=1) - hip_mid, axis=-1)
    scale = float(np.median(torso[both_ok])) if both_ok.any() else 0.0
    if scale <= 0:
        visible = kp[seen]
        scale = float(np.ptp(visible[:, 1]) / 3) if len(visible) > 1 else 1.0
    out = (kp - centre) / max(scale, 1e-6)
    return np.where(seen[..., None], out, 0.0)


def window_features(keypoints: np.ndarray, scores: np.ndarray, frames: int = 16) -> np.ndarray:
    """``(frames * 17 * 2,)``: normalised joints of ``frames`` frames sampled uniformly over the clip."""
    norm = normalise_pose(keypoints, scores)
    pick = np.round(np.linspace(0, len(norm) - 1, frames)).astype(int)
    return norm[pick].reshape(-1)


def pose_features(points: np.ndarray, present: np.ndarray) -> np.ndarray:
    """``(N, 34)`` features of single poses (``(N, 17, 2)``, ``(N, 17)``): one-frame windows."""
    return np.stack(
        [normalise_pose(p[None], s[None]).reshape(-1) for p, s in zip(points, present, strict=True)]
    )


@dataclass(frozen=True)
class BaselineReport:
    """Accuracies in [0, 1]; ``chance`` is the best constant guess on the test set (majority class)."""

    train_accuracy: float
    test_accuracy: float
    chance: float
    mean_class_accuracy: float
    num_classes: int
    num_train: int
    num_test: int

    def __str__(self) -> str:
        return (
            f"baseline accuracy {self.test_accuracy:.1%} held out ({self.num_test} samples; train "
            f"{self.train_accuracy:.1%} on {self.num_train}), chance {self.chance:.1%} "
            f"({self.num_classes} classes, uniform {1 / self.num_classes:.1%})"
        )


def fit_and_score(
    features: np.ndarray, labels: np.ndarray, test: np.ndarray, num_classes: int
) -> BaselineReport:
    """Fit on ``~test`` rows, score on ``test`` rows."""
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    model.fit(features[~test], labels[~test])
    counts = np.bincount(labels[test], minlength=num_classes)
    predicted = model.predict(features[test])
    recall = [np.mean(predicted[labels[test] == c] == c) for c in range(num_classes) if counts[c]]
    return BaselineReport(
        train_accuracy=float(model.score(features[~test], labels[~test])),
        test_accuracy=float(model.score(features[test], labels[test])),
        chance=float(counts.max() / max(1, counts.sum())),
        mean_class_accuracy=float(np.mean(recall)),
        num_classes=num_classes,
        num_train=int((~test).sum()),
        num_test=int(test.sum()),
    )


def evaluate_clips(
    clips: Sequence[ClipSample],
    num_classes: int,
    *,
    frames: int = 16,
    test_fraction: float = 0.3,
    seed: int = 0,
) -> BaselineReport:
    """Held-out accuracy of the baseline on clips split by video."""
    features = np.stack([window_features(c.keypoints, c.scores, frames) for c in clips])
    labels = np.array([c.label for c in clips])
    test = split_by_group([c.video_id for c in clips], test_fraction, seed)
    return fit_and_score(features, labels, test, num_classes)


def fit_and_score_clips(
    train: Sequence[ClipSample], test: Sequence[ClipSample], num_classes: int, *, frames: int = 16
) -> BaselineReport:
    """Held-out accuracy of the baseline fitted on ``train`` and scored on ``test``."""
    clips = [*train, *test]
    features = np.stack([window_features(c.keypoints, c.scores, frames) for c in clips])
    labels = np.array([c.label for c in clips])
    return fit_and_score(features, labels, np.arange(len(clips)) >= len(train), num_classes)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Held-out accuracy of the keypoint baseline on clip labels.")
    parser.add_argument("tables", metavar="TABLES", help="folder with keypoints/ and clip_labels/ tables")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--test-fraction", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exclude", default="idle", help="comma-separated labels to leave out")
    args = parser.parse_args(argv)
    clips, classes = load_clips(args.tables, args.tables, exclude=tuple(args.exclude.split(",")))
    report = evaluate_clips(
        clips, len(classes), frames=args.frames, test_fraction=args.test_fraction, seed=args.seed
    )
    print(report)


if __name__ == "__main__":
    main()
