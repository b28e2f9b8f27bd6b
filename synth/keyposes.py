"""Real key poses: OpenPose BODY-25 poses of people, mapped to COCO-17, turned into joint angles.

The data is ``BodyPose_Dataset.csv`` shipped inside the ``pose-classification-kit`` wheel (MIT
licence, A. Fabre de La Ripelle): 10,681 single-person poses in 20 classes (``Stand``, ``Squat``,
``T``, ``Stand_LeftArmRaised``, ``Yoga_UpwardSalute`` …), columns ``label, accuracy, x0, y0 … x24,
y24``. Coordinates are normalised per pose (centred on the box, scaled by body-part lengths) with
**y up**; a missing joint is written (0, 0). Only the data file is read: importing
``pose_classification_kit.datasets`` would import TensorFlow.

The synthetic actions (:mod:`posebeam.synth.actions`) use the per-class median joint
angles as anchors, so that their squat or reach-up passes through poses real people take.
"""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass

import numpy as np
import pandas as pd

from posebeam.schemas.layouts import BODY25
from posebeam.synth.body import BodyShape, inverse_kinematics, mirror_params, neutral_params

DATA_PACKAGE = "pose_classification_kit"
DATA_FILE = ("datasets", "BodyPose_Dataset.csv")


class RealPosesUnavailable(RuntimeError):
    """The pose-classification-kit data file is not installed."""


@dataclass(frozen=True)
class RealPoses:
    """Real static poses in COCO-17 order.

    Attributes:
        points: ``(N, 17, 2)`` x, y in the dataset's normalised units, **y down** like image pixels;
            0 where a joint is missing.
        present: ``(N, 17)`` bool.
        labels: ``(N,)`` class names.
    """

    points: np.ndarray
    present: np.ndarray
    labels: np.ndarray

    def of(self, label: str) -> RealPoses:
        keep = self.labels == label
        if not keep.any():
            raise KeyError(f"no real poses labelled {label!r}; known: {', '.join(np.unique(self.labels))}")
        return RealPoses(self.points[keep], self.present[keep], self.labels[keep])


def body25_to_coco17(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(..., 25, 2)`` OpenPose joints → ``(..., 17, 2)`` COCO-17 joints and ``(..., 17)`` presence.

    A joint at exactly (0, 0) is OpenPose's "missing"; it stays (0, 0) with presence False.
    """
    assert BODY25.to_coco17 is not None
    coco = np.asarray(xy, dtype=np.float64)[..., list(BODY25.to_coco17), :]
    present = np.any(coco != 0.0, axis=-1)
    return np.where(present[..., None], coco, 0.0), present


def data_path() -> importlib.resources.abc.Traversable:
    try:
        path = importlib.resources.files(DATA_PACKAGE).joinpath(*DATA_FILE)
    except ModuleNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise RealPosesUnavailable(f"{'/'.join(DATA_FILE)} of the {DATA_PACKAGE} package is not installed")
    return path


@functools.lru_cache(maxsize=1)
def load_real_poses() -> RealPoses:
    """All poses of the data file (read once per process, ~0.1 s)."""
    with data_path().open("rb") as handle:
        frame = pd.read_csv(handle)
    columns = [f"{axis}{joint}" for joint in range(25) for axis in "xy"]
    xy = frame[columns].to_numpy(dtype=np.float64).reshape(-1, 25, 2)
    points, present = body25_to_coco17(xy)
    points[..., 1] *= -1.0  # the dataset's y points up
    return RealPoses(points, present, frame["label"].to_numpy(dtype=str))


@functools.lru_cache(maxsize=1)
def _units_per_body_height() -> float:
    """Dataset units per body height: the median torso of ``Stand`` poses over the model's torso."""
    stand = load_real_poses().of("Stand")
    ok = stand.present[:, [5, 6, 11, 12]].all(axis=1)
    pts = stand.points[ok]
    torso = np.linalg.norm((pts[:, 5] + pts[:, 6] - pts[:, 11] - pts[:, 12]) / 2, axis=-1)
    return float(np.median(torso)) / BodyShape().torso


@functools.lru_cache(maxsize=32)
def anchor_params(label: str, symmetric: bool = True) -> np.ndarray:
    """``(P,)`` median joint angles and scales of the real poses labelled ``label``.

    Each pose is inverted through the kinematic tree on its own, then every parameter takes its
    median over the poses that show its joints (neutral where none does). ``symmetric`` averages the
    left and right sides (and zeroes the leans), which removes the camera's and people's lopsidedness
    from a pose meant to be symmetric.
    """
    real = load_real_poses().of(label)
    points = real.points * np.array([1.0, -1.0]) / _units_per_body_height()
    params = inverse_kinematics(points, real.present)
    median = np.nanmedian(params, axis=0)
    median = np.where(np.isnan(median), neutral_params(), median)
    if symmetric:
        median = (median + mirror_params(median)) / 2
    median.setflags(write=False)
    return median
