"""Box geometry: IoU, non-maximum suppression and square person crops.

Boxes are ``(N, 4)`` float arrays of ``x1, y1, x2, y2`` in pixels.
"""

from __future__ import annotations

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union, ``(len(a), len(b))``; 0 where a union is empty."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, highest score first."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    ious = iou_matrix(boxes, boxes)
    keep: list[int] = []
    suppressed = np.zeros(len(order), dtype=bool)
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= ious[i] > iou_threshold
    return np.asarray(keep, dtype=np.int64)


def square_crop_transform(box: np.ndarray, size: int, padding: float) -> np.ndarray:
    """2×3 affine matrix mapping frame pixels into a ``size``×``size`` crop.

    The crop is the square around the box centre whose side is the box's longer side times
    ``1 + padding``. Invert with :func:`crop_to_frame`.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1, 1.0) * (1.0 + padding)
    scale = size / side
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    return np.array(
        [[scale, 0.0, size / 2.0 - cx * scale], [0.0, scale, size / 2.0 - cy * scale]],
        dtype=np.float64,
    )


def crop_to_frame(points: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Map ``(..., 2)`` crop pixel coordinates back to frame pixels through ``transform``."""
    scale = transform[0, 0]
    offset = transform[:, 2]
    return (np.asarray(points, dtype=np.float64) - offset) / scale


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip ``(N, 4)`` boxes to the frame."""
    out = np.asarray(boxes, dtype=np.float64).copy()
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    return out
