"""Optional backend: an mmdet person detector, then an mmpose top-down model, from local files.

Install with the ``[mm]`` extra (README, "The mm backend"). Nothing is downloaded: configs and
checkpoints are local paths. A checkpoint of ``None`` keeps random weights (for tests only).
Checkpoints load through mmengine, which calls ``torch.load`` with torch's ``weights_only=True``
default, so a checkpoint cannot run code; prefer files whose sha256 you know.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from posebeam.models.pose_backend import BackendUnavailable, PersonPose
from posebeam.schemas.layouts import COCO17
from posebeam.transforms.boxes import nms

PERSON_LABEL = 0  # COCO class id of "person" in mmdet detectors


def _import_mm() -> tuple[Any, Any, Any]:
    try:
        import mmdet.apis
        import mmpose.apis
        import mmpose.utils
    except ImportError as err:
        raise BackendUnavailable(
            f"the mm backend needs mmcv, mmdet and mmpose ({err}); see README 'The mm backend'"
        ) from err
    return mmdet.apis, mmpose.apis, mmpose.utils


def check_available(
    det_config: str | None = None,
    det_checkpoint: str | None = None,
    pose_config: str | None = None,
    pose_checkpoint: str | None = None,
) -> str:
    """The backend's version; :class:`BackendUnavailable` for missing packages, configs or
    checkpoint files."""
    _import_mm()
    for flag, path, required in (
        ("--mm-det-config", det_config, True),
        ("--mm-pose-config", pose_config, True),
        ("--mm-det-checkpoint", det_checkpoint, False),
        ("--mm-pose-checkpoint", pose_checkpoint, False),
    ):
        if path is None and required:
            raise BackendUnavailable(f"the mm backend needs {flag}")
        if path is not None and not os.path.isfile(path):
            raise BackendUnavailable(f"{flag} {path} is not a file")
    import mmdet
    import mmpose

    return f"mmdet-{mmdet.__version__}+mmpose-{mmpose.__version__}"


class MMPoseBackend:
    """mmdet detector + mmpose top-down model (its output layout must be COCO-17)."""

    name = "mm"
    layout = COCO17.name

    def __init__(
        self,
        det_config: str | None = None,
        det_checkpoint: str | None = None,
        pose_config: str | None = None,
        pose_checkpoint: str | None = None,
        device: str = "cpu",
        min_box_score: float = 0.3,
        nms_iou: float = 0.3,
    ) -> None:
        self.version = check_available(det_config, det_checkpoint, pose_config, pose_checkpoint)
        det_apis, pose_apis, pose_utils = _import_mm()
        self._inference_detector = det_apis.inference_detector
        self._inference_topdown = pose_apis.inference_topdown
        self._detector = det_apis.init_detector(det_config, det_checkpoint, device=device)
        self._detector.cfg = pose_utils.adapt_mmdet_pipeline(self._detector.cfg)
        self._pose = pose_apis.init_model(pose_config, pose_checkpoint, device=device)
        num_joints = self._pose.dataset_meta.get("num_keypoints") if self._pose.dataset_meta else None
        if num_joints not in (None, COCO17.num_joints):
            raise BackendUnavailable(f"the mm pose model predicts {num_joints} joints, not COCO-17")
        self._min_box_score = min_box_score
        self._nms_iou = nms_iou

    def estimate(self, frames: Sequence[np.ndarray]) -> list[list[PersonPose]]:
        return [self._estimate_one(frame) for frame in frames]

    def _estimate_one(self, frame: np.ndarray) -> list[PersonPose]:
        bgr = np.ascontiguousarray(frame[..., ::-1])
        boxes, scores = self.detect(bgr)
        return self.poses_in_boxes(bgr, boxes, scores)

    def detect(self, bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes ``(N, 4)`` xyxy and scores ``(N,)`` of one BGR frame, after NMS."""
        detections = self._inference_detector(self._detector, bgr).pred_instances.cpu().numpy()
        keep = (detections.labels == PERSON_LABEL) & (detections.scores >= self._min_box_score)
        boxes, scores = detections.bboxes[keep], detections.scores[keep]
        order = nms(boxes, scores, self._nms_iou)
        return boxes[order], scores[order]

    def poses_in_boxes(self, bgr: np.ndarray, boxes: np.ndarray, scores: np.ndarray) -> list[PersonPose]:
        """The top-down half: COCO-17 keypoints for each given box of one BGR frame."""
        if len(boxes) == 0:
            return []
        results = self._inference_topdown(self._pose, bgr, boxes, bbox_format="xyxy")
        poses = []
        for box, score, result in zip(boxes, scores, results, strict=True):
            instances = result.pred_instances
            xy = np.asarray(instances.keypoints[0], dtype=np.float32)
            confidence = np.clip(np.asarray(instances.keypoint_scores[0], dtype=np.float32), 0, 1)
            keypoints = np.concatenate([xy, confidence[:, None]], axis=1)
            poses.append(PersonPose(np.asarray(box, np.float32), float(score), keypoints))
        return poses
