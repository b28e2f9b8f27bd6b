"""Per-frame joint coordinates of one track, normalised by its smoothed crop box: the input of the
coordinate baseline the heatmap segmenter is compared with (``benchmarks/segmenter_dropout.py``).

A track is ``keypoints`` ``(T, 17, 2)`` (x, y in frame pixels, COCO-17) and ``scores`` ``(T, 17)``
(0 = missing), as :mod:`posebeam.transforms.frame_heatmaps` takes it. Each frame's joints are
expressed in the frame's crop box (left, top, side), the same box the heatmaps are drawn in
(:func:`~posebeam.transforms.frame_heatmaps.track_boxes`: running median over time, padded):

    u = (x − (left + side / 2)) / side,   v = (y − (top + side / 2)) / side

so a joint inside the box lies in [−½, ½]. A frame is 17 × 3 values, joint by joint
``(u, v, score)`` in COCO-17 order: float32 ``(T, 51)``. A joint the renderer would not draw
(score below ``eps`` or a coordinate not finite) reads ``0, 0, 0``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from posebeam.schemas.layouts import COCO17
from posebeam.transforms.frame_heatmaps import SegmenterSpec
from posebeam.transforms.heatmaps import EPS

VALUES_PER_JOINT = 3
"""``(u, v, score)``."""


def box_coordinates(
    keypoints: np.ndarray,
    scores: np.ndarray,
    boxes: np.ndarray,
    *,
    flip_index: Sequence[int] | None = None,
    eps: float = EPS,
) -> np.ndarray:
    """float32 ``(T, K·3)``: each joint's ``(u, v, score)`` in its frame's box (module doc).

    ``keypoints`` ``(T, K, 2)`` pixels, ``scores`` ``(T, K)``, ``boxes`` ``(T, 3)`` (left, top, side in
    pixels). Missing joints (score < ``eps`` or non-finite coordinates) give zeros. ``flip_index``
    (a joint permutation, e.g. ``COCO17.flip_index()``) mirrors the track about each box's vertical
    centre line: u → −u and joint k takes the values of joint ``flip_index[k]``.
    """
    xy = np.asarray(keypoints, dtype=np.float64)
    score = np.asarray(scores, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64)
    side = boxes[:, None, 2:3]
    centre = boxes[:, None, :2] + side / 2
    present = (score >= eps) & np.isfinite(xy).all(axis=-1)
    uv = np.where(present[..., None], (np.nan_to_num(xy) - centre) / side, 0.0)
    values = np.concatenate([uv, np.where(present, score, 0.0)[..., None]], axis=-1)
    if flip_index is not None:
        values = values[:, list(flip_index)] * np.array([-1.0, 1.0, 1.0])
    return values.reshape(len(values), -1).astype(np.float32)


def track_coordinates(
    keypoints: np.ndarray, scores: np.ndarray, spec: SegmenterSpec | None = None
) -> np.ndarray:
    """float32 ``(T, 51)`` box-normalised coordinates of a whole COCO-17 track, in the boxes its
    heatmaps would use (:func:`track_boxes` with ``spec``'s ``box_window`` and ``box_padding``)."""
    spec = spec or SegmenterSpec()
    if np.shape(keypoints)[1:] != (COCO17.num_joints, 2):
        raise ValueError(f"keypoints must be (T, {COCO17.num_joints}, 2), got {np.shape(keypoints)}")
    boxes = spec.boxes(keypoints, scores)
    return box_coordinates(keypoints, scores, boxes)


LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP = 5, 6, 11, 12


def hip_torso_coordinates(keypoints: np.ndarray, scores: np.ndarray, eps: float = EPS) -> np.ndarray:
    """float32 ``(T, 51)``: each joint's ``(u, v, score)`` centred on the frame's hip mid-point and
    divided by the track's torso length (the median over frames of the hip mid-point to shoulder
    mid-point distance): the raw-keypoint baseline of the alignment evaluation. A frame without both
    hips takes the hip mid-point of the nearest frame that has them; a missing joint reads 0, 0, 0."""
    xy = np.asarray(keypoints, dtype=np.float64)
    score = np.asarray(scores, dtype=np.float64)
    present = (score >= eps) & np.isfinite(xy).all(axis=-1)
    hips = present[:, LEFT_HIP] & present[:, RIGHT_HIP]
    shoulders = present[:, LEFT_SHOULDER] & present[:, RIGHT_SHOULDER]
    hip_mid = (xy[:, LEFT_HIP] + xy[:, RIGHT_HIP]) / 2
    if hips.any():
        frames, known = np.arange(len(xy)), np.flatnonzero(hips)
        nearest = known[np.abs(frames[:, None] - known[None, :]).argmin(axis=1)]
        hip_mid = hip_mid[nearest]
    else:
        hip_mid = np.zeros_like(hip_mid)
    torso_frames = hips & shoulders
    shoulder_mid = (xy[:, LEFT_SHOULDER] + xy[:, RIGHT_SHOULDER]) / 2
    torso = np.linalg.norm((shoulder_mid - hip_mid)[torso_frames], axis=-1)
    scale = float(np.median(torso)) if len(torso) and np.median(torso) > 0 else 1.0
    uv = np.where(present[..., None], (np.nan_to_num(xy) - hip_mid[:, None]) / scale, 0.0)
    values = np.concatenate([uv, np.where(present, score, 0.0)[..., None]], axis=-1)
    return values.reshape(len(values), -1).astype(np.float32)
