"""A deterministic test backend: every bright box of a synthetic video is one "person".

It finds connected bright regions (``scipy.ndimage.label``) and places 17 keypoints on a fixed
grid inside each box, confidence 1. A box scores 1 (a confident detection) unless it is dim
(its brightest pixel under :data:`CONFIDENT_INTENSITY`): 0.15, a weak detection. Registered as
backend ``shapes`` by ``conftest.py``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from posebeam.models.pose_backend import PersonPose

# Relative (x, y) of the 17 COCO joints inside a box: head on top, ankles at the bottom.
RELATIVE_JOINTS = np.array(
    [
        [0.5, 0.05],
        [0.55, 0.04],
        [0.45, 0.04],
        [0.6, 0.06],
        [0.4, 0.06],
        [0.7, 0.2],
        [0.3, 0.2],
        [0.8, 0.35],
        [0.2, 0.35],
        [0.85, 0.5],
        [0.15, 0.5],
        [0.65, 0.55],
        [0.35, 0.55],
        [0.65, 0.75],
        [0.35, 0.75],
        [0.65, 0.95],
        [0.35, 0.95],
    ]
)


CONFIDENT_INTENSITY = 200


class ShapesBackend:
    name = "shapes"
    version = "test"
    layout = "coco17"

    def __init__(self, threshold: int = 128) -> None:
        self._threshold = threshold
        # Seconds per frame, to make a run slow enough to be killed half-way (tests/test_resume.py).
        self._delay_s = float(os.environ.get("POSEBEAM_SHAPES_DELAY_S", "0"))

    def estimate(self, frames: Sequence[np.ndarray]) -> list[list[PersonPose]]:
        time.sleep(self._delay_s * len(frames))
        out = []
        for frame in frames:
            gray = frame.mean(axis=2)
            labels, _ = ndimage.label(gray > self._threshold)
            poses = []
            for label, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
                box = np.array([cols.start, rows.start, cols.stop, rows.stop], dtype=np.float32)
                size = box[2:] - box[:2]
                xy = box[:2] + RELATIVE_JOINTS * size
                keypoints = np.concatenate([xy, np.ones((17, 1))], axis=1).astype(np.float32)
                intensity = gray[rows, cols][labels[rows, cols] == label].max()
                score = 1.0 if intensity >= CONFIDENT_INTENSITY else 0.15
                poses.append(PersonPose(box, score, keypoints))
            out.append(poses)
        return out


def check_available(**options: object) -> str:
    """Always available."""
    return ShapesBackend.version


class CrashingShapesBackend(ShapesBackend):
    """``shapes``, but it dies natively (SIGSEGV) on frames narrower than 100 px, as OpenCV's HOG
    detector corrupts memory on frames smaller than its window. Registered as ``shapes_crashing``."""

    name = "shapes_crashing"

    def estimate(self, frames: Sequence[np.ndarray]) -> list[list[PersonPose]]:
        if any(frame.shape[1] < 100 for frame in frames):
            os.kill(os.getpid(), signal.SIGSEGV)
        return super().estimate(frames)
