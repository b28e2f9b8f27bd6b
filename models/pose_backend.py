"""The top-down pose backend interface and the registry of available backends.

A backend turns a batch of RGB frames into, per frame, a list of :class:`PersonPose` in the
pixel coordinates of the frames it was given, with keypoints in the COCO-17 layout.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from posebeam.transforms.boxes import clip_boxes


@dataclass(frozen=True)
class PersonPose:
    """One detected person in one frame.

    Attributes:
        bbox: ``(4,)`` float32, ``x1, y1, x2, y2`` pixels.
        bbox_score: detector confidence in [0, 1].
        keypoints: ``(K, 3)`` float32 rows of ``x, y, confidence`` (pixels, pixels, [0, 1]).
    """

    bbox: np.ndarray
    bbox_score: float
    keypoints: np.ndarray

    def in_frame(self, scale: float, width: int, height: int) -> PersonPose:
        """Coordinates multiplied by ``scale``; the box clipped to a ``width``×``height`` frame.

        Joints stay where the model put them: the ``keypoints`` table's writer
        (:func:`posebeam.schemas.records.keypoints_table`) clamps them into the frame.
        """
        keypoints = self.keypoints.astype(np.float32)
        keypoints[:, :2] *= scale
        bbox = clip_boxes(self.bbox[None] * scale, width, height)[0].astype(np.float32)
        return PersonPose(bbox, self.bbox_score, keypoints)


class PoseBackend(Protocol):
    """What the pose stage needs from a backend."""

    name: str
    version: str
    layout: str

    def estimate(self, frames: Sequence[np.ndarray]) -> list[list[PersonPose]]:
        """Poses for each ``(H, W, 3)`` uint8 RGB frame, in that frame's pixel coordinates."""
        ...


class BackendUnavailable(RuntimeError):
    """A backend's packages or weights are missing; the message says how to install them."""


# name -> "module:factory"; factories take keyword options and return a PoseBackend.
BACKENDS: dict[str, str] = {
    "movenet": "posebeam.models.movenet:MoveNetBackend",
    "blazepose": "posebeam.models.blazepose:BlazePoseBackend",
    "mm": "posebeam.models.mm_backend:MMPoseBackend",
}


def _backend_module(name: str) -> tuple[Any, str]:
    if name not in BACKENDS:
        raise KeyError(f"unknown pose backend {name!r}; choose from {', '.join(sorted(BACKENDS))}")
    module_name, attr = BACKENDS[name].split(":")
    return importlib.import_module(module_name), attr


def create_backend(name: str, **options: Any) -> PoseBackend:
    """Instantiate backend ``name`` with its options; ``KeyError`` for an unknown name."""
    module, attr = _backend_module(name)
    factory: Callable[..., PoseBackend] = getattr(module, attr)
    return factory(**options)


def check_backend(name: str, **options: Any) -> str:
    """Fail fast, before a job starts, when backend ``name`` cannot run with these options; returns
    the version string its videos will carry (``videos.backend_version``).

    Raises ``KeyError`` for an unknown name and :class:`BackendUnavailable` when packages or
    files are missing. Loads no weights.
    """
    module, _ = _backend_module(name)
    check: Callable[..., str] = module.check_available
    return check(**options)
