"""Default pose backend: OpenCV HOG person detector, then BlazePose on each person crop.

Top-down: HOG boxes (non-maximum suppressed) are cut out as square crops with 25 % padding,
resized to 256 px, and passed to MediaPipe's BlazePose (``solutions.pose``, full model, weights
bundled in the ``mediapipe`` wheel: nothing is downloaded at run time). Its 33 landmarks are mapped
to COCO-17 (docs/method.md §1) and back to frame pixels; the landmark ``visibility`` is the
keypoint confidence. Two crops that settle on the same person are merged by NMS on the boxes
spanned by the keypoints.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from posebeam.models.pose_backend import BackendUnavailable, PersonPose
from posebeam.schemas.layouts import BLAZEPOSE33, COCO17
from posebeam.transforms.boxes import clip_boxes, crop_to_frame, nms, square_crop_transform

log = logging.getLogger(__name__)

CROP_SIZE = 256
CROP_PADDING = 0.25


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Hide what MediaPipe's native code prints while it loads (a harmless protobuf-6 message on
    import, TF Lite delegate notices): it would otherwise land in every user's terminal."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        with contextlib.redirect_stderr(io.StringIO()):  # what the bindings print through Python
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _import_backend_packages() -> tuple[Any, Any]:
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ log noise
    try:
        import cv2

        with _native_stderr_silenced():
            import mediapipe as mp
    except ImportError as err:
        raise BackendUnavailable(
            f"the blazepose backend needs opencv and mediapipe ({err}); install them with "
            "`bash deploy/install.sh` (mediapipe is installed with --no-deps, see README)"
        ) from err
    return cv2, mp


HOG_PADDING = (8, 8)
HOG_MIN_SIZE = (64 + 2 * 8, 128 + 2 * 8)
"""The people detector's 64×128 window with its padding on each side: the smallest safe image."""


class BlazePoseBackend:
    """HOG + BlazePose top-down backend, COCO-17 output.

    Args:
        hog_stride: HOG sliding-window stride in pixels.
        hog_scale: pyramid scale step of ``detectMultiScale``.
        min_box_score: boxes whose squashed SVM score is lower are dropped.
        model_complexity: BlazePose model (0 lite, 1 full, 2 heavy), all bundled in the wheel.
        min_pose_confidence: BlazePose's own person-presence threshold inside a crop.
    """

    name = "blazepose"
    layout = COCO17.name

    def __init__(
        self,
        hog_stride: int = 8,
        hog_scale: float = 1.05,
        min_box_score: float = 0.3,
        model_complexity: int = 1,
        min_pose_confidence: float = 0.5,
    ) -> None:
        cv2, mp = _import_backend_packages()
        self._cv2 = cv2
        self.version = check_available(model_complexity=model_complexity)
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self._stride = (hog_stride, hog_stride)
        self._scale = hog_scale
        self._min_box_score = min_box_score
        with _native_stderr_silenced():
            self._pose = mp.solutions.pose.Pose(
                static_image_mode=True,
                model_complexity=model_complexity,
                min_detection_confidence=min_pose_confidence,
            )
            self._pose.process(np.zeros((CROP_SIZE, CROP_SIZE, 3), np.uint8))  # loads the models
        self._coco_index = np.asarray(BLAZEPOSE33.to_coco17)

    def detect(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes ``(N, 4)`` xyxy and scores ``(N,)`` in [0, 1] for one RGB frame.

        OpenCV's HOG corrupts memory on an image smaller than its window plus padding, so a frame
        that small is enlarged first (the boxes are scaled back)."""
        height, width = frame.shape[:2]
        grow = max(HOG_MIN_SIZE[0] / width, HOG_MIN_SIZE[1] / height, 1.0)
        image = frame
        if grow > 1.0:
            size = (
                max(HOG_MIN_SIZE[0], math.ceil(width * grow)),
                max(HOG_MIN_SIZE[1], math.ceil(height * grow)),
            )
            image = self._cv2.resize(frame, size, interpolation=self._cv2.INTER_LINEAR)
        rects, weights = self._hog.detectMultiScale(
            image, winStride=self._stride, padding=HOG_PADDING, scale=self._scale
        )
        if len(rects) == 0:
            return np.zeros((0, 4)), np.zeros(0)
        rects = np.asarray(rects, dtype=np.float64) / grow
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
        scores = 1.0 / (1.0 + np.exp(-np.asarray(weights, dtype=np.float64).ravel()))
        keep = scores >= self._min_box_score
        boxes, scores = boxes[keep], scores[keep]
        order = nms(boxes, scores, iou_threshold=0.5)
        height, width = frame.shape[:2]
        return clip_boxes(boxes[order], width, height), scores[order]

    def _pose_in_box(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        transform = square_crop_transform(box, CROP_SIZE, CROP_PADDING)
        crop = self._cv2.warpAffine(frame, transform, (CROP_SIZE, CROP_SIZE))
        result = self._pose.process(crop)
        if result.pose_landmarks is None:
            return None
        landmarks = result.pose_landmarks.landmark
        raw = np.array([[lm.x, lm.y, lm.visibility] for lm in landmarks], dtype=np.float64)
        coco = raw[self._coco_index]
        points = crop_to_frame(coco[:, :2] * CROP_SIZE, transform)
        return np.concatenate([points, coco[:, 2:]], axis=1).astype(np.float32)

    def estimate(self, frames: Sequence[np.ndarray]) -> list[list[PersonPose]]:
        return [self._estimate_one(frame) for frame in frames]

    def _estimate_one(self, frame: np.ndarray) -> list[PersonPose]:
        boxes, scores = self.detect(frame)
        poses: list[PersonPose] = []
        for box, score in zip(boxes, scores, strict=True):
            keypoints = self._pose_in_box(frame, box)
            if keypoints is not None:
                poses.append(PersonPose(box.astype(np.float32), float(score), keypoints))
        return _merge_duplicates(poses)


def _merge_duplicates(poses: list[PersonPose], iou_threshold: float = 0.6) -> list[PersonPose]:
    """Drop poses whose keypoint extents overlap a higher-scoring pose's by more than the threshold."""
    if len(poses) < 2:
        return poses
    extents = np.stack(
        [np.concatenate([p.keypoints[:, :2].min(axis=0), p.keypoints[:, :2].max(axis=0)]) for p in poses]
    )
    confidence = np.array([p.keypoints[:, 2].mean() * p.bbox_score for p in poses])
    keep = sorted(nms(extents, confidence, iou_threshold).tolist())
    return [poses[i] for i in keep]


def check_available(model_complexity: int = 1, **options: Any) -> str:
    """The backend's version; :class:`BackendUnavailable` if OpenCV or MediaPipe cannot be imported."""
    cv2, mp = _import_backend_packages()
    return f"opencv-{cv2.__version__}+mediapipe-{mp.__version__}-c{model_complexity}"
