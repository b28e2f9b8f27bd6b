"""Per-frame RGB crops of a tracked person, for the segmenter's RGB stream (docs/method.md §6).

Each frame of a track is cut to the same smoothed square box its heatmaps are drawn in
(:func:`~posebeam.transforms.frame_heatmaps.track_boxes`) and resized to ``rgb_size`` pixels:
``(T, s, s, 3)`` uint8, 3 KB a frame at 32². Box parts outside the frame read black. A frame the
track has no video frame for (the person missing at that grid point) is all zeros, like a frame
without keypoints in the heatmaps. :func:`track_crops` takes decoded frames as a stream and keeps
only the crops, so a long track never holds more than one decoded frame. :func:`standardise_crops`
scales to [0, 1] and standardises with ImageNet's mean and spread (as PYSKL's RGB pipelines do)
and mirrors when asked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from posebeam.transforms.frame_heatmaps import SegmenterSpec

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@dataclass(frozen=True)
class RGBSegmenterSpec(SegmenterSpec):
    """A heatmap segmenter's spec plus its RGB stream: ``rgb_size`` crop side in pixels,
    ``rgb_dim`` RGB features per frame, ``rgb_stages`` the MS-TCN++ stages the RGB features are
    fused into (0: the prediction generation stage, k: refinement stage k)."""

    rgb_size: int = 32
    rgb_dim: int = 64
    rgb_stages: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "rgb_stages", tuple(sorted({int(k) for k in self.rgb_stages})))
        if self.rgb_size < 16:
            raise ValueError(f"RGB crops must be at least 16 px, got {self.rgb_size}")
        if not self.rgb_stages or not set(self.rgb_stages) <= set(range(self.num_r + 1)):
            raise ValueError(f"RGB stages must be among 0..{self.num_r}, got {list(self.rgb_stages)}")


def crop_frame(image: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """``(size, size, 3)`` uint8: the square ``box`` (left, top, side in pixels) of ``image``
    ``(H, W, 3)``, bilinearly resized; outside the image reads black."""
    left, top, side = (float(v) for v in box)
    scale = size / side
    affine = np.array([[scale, 0.0, -left * scale], [0.0, scale, -top * scale]], dtype=np.float64)
    return cv2.warpAffine(image, affine, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))


def track_crops(
    frames: Iterable[tuple[int, np.ndarray]], frame_of_point: np.ndarray, boxes: np.ndarray, size: int
) -> np.ndarray:
    """``(G, size, size, 3)`` uint8 crops of a track's ``G`` points: point ``g`` is cut from video
    frame ``frame_of_point[g]`` (−1: no frame, zeros) in ``boxes[g]``. ``frames`` yields
    ``(index, image)`` in increasing index order; it is read only up to the last frame wanted."""
    crops = np.zeros((len(frame_of_point), size, size, 3), dtype=np.uint8)
    wanted = frame_of_point >= 0
    if not wanted.any():
        return crops
    order = np.argsort(frame_of_point, kind="stable")
    order = order[wanted[order]]
    sorted_frames = frame_of_point[order]
    last = int(sorted_frames[-1])
    for index, image in frames:
        lo, hi = np.searchsorted(sorted_frames, [index, index + 1])
        for point in order[lo:hi]:
            crops[point] = crop_frame(image, boxes[point], size)
        if index >= last:
            break
    return crops


def standardise_crops(crops: np.ndarray, flip: bool = False) -> np.ndarray:
    """``(T, s, s, 3)`` uint8 crops → ``(T, 3, s, s)`` float32, standardised, mirrored if ``flip``."""
    x = (crops.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    if flip:
        x = x[:, :, ::-1]
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
