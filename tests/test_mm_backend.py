"""The optional mm backend (mmdet + mmpose) with randomly initialised weights.

Runs only where the ``[mm]`` extra is installed (deploy/install_mm.sh); otherwise it checks that
the backend says how to install it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from posebeam.models.pose_backend import BackendUnavailable, check_backend, create_backend

HAVE_MM = all(importlib.util.find_spec(m) is not None for m in ("mmcv", "mmdet", "mmpose"))


@pytest.mark.skipif(HAVE_MM, reason="the [mm] extra is installed")
def test_without_the_extra_the_backend_says_how_to_install() -> None:
    with pytest.raises(BackendUnavailable, match="README 'The mm backend'"):
        check_backend("mm")


def _package_config(package: str, relative: str) -> str:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None
    path = Path(spec.origin).parent / ".mim" / "configs" / relative
    if not path.is_file():
        pytest.skip(f"{package} does not ship {relative}")
    return str(path)


@pytest.mark.skipif(not HAVE_MM, reason="the [mm] extra is not installed")
def test_random_weights_from_local_checkpoints_give_coco17_poses(tmp_path: Path) -> None:
    import torch
    from mmdet.apis import init_detector
    from mmpose.apis import init_model

    det_config = _package_config("mmdet", "rtmdet/rtmdet_tiny_8xb32-300e_coco.py")
    pose_config = _package_config(
        "mmpose", "body_2d_keypoint/rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py"
    )
    torch.manual_seed(0)
    det_checkpoint, pose_checkpoint = tmp_path / "det.pth", tmp_path / "pose.pth"
    torch.save({"state_dict": init_detector(det_config, None, device="cpu").state_dict()}, det_checkpoint)
    torch.save({"state_dict": init_model(pose_config, None, device="cpu").state_dict()}, pose_checkpoint)

    with pytest.raises(BackendUnavailable, match="is not a file"):
        check_backend("mm", det_config=det_config, pose_config=pose_config, det_checkpoint="/no/such.pth")
    backend = create_backend(
        "mm",
        det_config=det_config,
        det_checkpoint=str(det_checkpoint),
        pose_config=pose_config,
        pose_checkpoint=str(pose_checkpoint),
        min_box_score=0.0,
    )
    frame = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    (detected,) = backend.estimate([frame])  # untrained: usually no box passes the detector's threshold
    assert backend.layout == "coco17" and backend.version.startswith("mmdet-")
    assert all(pose.keypoints.shape == (17, 3) for pose in detected)
    boxes = np.array([[20.0, 10.0, 120.0, 230.0], [150.0, 30.0, 230.0, 200.0]])
    poses = backend.poses_in_boxes(np.ascontiguousarray(frame[..., ::-1]), boxes, np.array([0.9, 0.8]))
    assert len(poses) == 2
    for pose, box in zip(poses, boxes, strict=True):
        assert pose.keypoints.shape == (17, 3) and np.array_equal(pose.bbox, box.astype(np.float32))
        assert pose.keypoints[:, 2].min() >= 0 and pose.keypoints[:, 2].max() <= 1
        assert np.isfinite(pose.keypoints).all()
