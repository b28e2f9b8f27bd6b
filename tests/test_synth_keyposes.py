"""Real key poses from pose-classification-kit's BodyPose dataset: mapping, anchors, a static classifier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posebeam.synth.actions import KEY_POSES
from posebeam.synth.body import BodyShape, P, forward_kinematics
from posebeam.synth.keyposes import anchor_params, body25_to_coco17, data_path, load_real_poses
from posebeam.training.baseline import fit_and_score, pose_features
from posebeam.training.splits import split_by_group


def test_body25_row_of_the_csv_maps_to_coco17() -> None:
    with data_path().open("rb") as handle:
        row = pd.read_csv(handle, nrows=1).iloc[0]
    assert row.label == "Seated"
    xy = np.array([[row[f"x{j}"], row[f"y{j}"]] for j in range(25)])
    coco, present = body25_to_coco17(xy)
    assert coco[0].tolist() == xy[0].tolist()  # nose
    assert coco[5].tolist() == xy[5].tolist()  # left shoulder: BODY-25 5 LShoulder
    assert coco[6].tolist() == xy[2].tolist()  # right shoulder: BODY-25 2 RShoulder
    assert coco[9].tolist() == xy[7].tolist()  # left wrist: BODY-25 7 LWrist
    assert coco[12].tolist() == xy[9].tolist()  # right hip: BODY-25 9 RHip
    assert coco[16].tolist() == xy[11].tolist()  # right ankle: BODY-25 11 RAnkle
    assert present.all() == bool(
        np.all(np.any(xy[[0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11]], 1))
    )


def test_a_zero_joint_is_missing_not_the_origin() -> None:
    xy = np.ones((25, 2))
    xy[4] = 0.0  # RWrist missing
    coco, present = body25_to_coco17(xy)
    assert not present[10] and present.sum() == 16
    assert coco[10].tolist() == [0.0, 0.0]


def test_real_poses_load_in_image_orientation() -> None:
    real = load_real_poses()
    assert real.points.shape == (10681, 17, 2) and len(np.unique(real.labels)) == 20
    stand = real.of("Stand")
    both = stand.present[:, 0] & stand.present[:, 15]
    assert np.median(stand.points[both, 0, 1] - stand.points[both, 15, 1]) < 0  # nose above ankle: y down
    with pytest.raises(KeyError, match="known: MilitarySalute"):
        real.of("Moonwalk")


def test_anchors_take_the_real_poses_angles() -> None:
    t_pose, arms_up, stand = anchor_params("T"), anchor_params("Yoga_UpwardSalute"), anchor_params("Stand")
    assert 75 < t_pose[P["l_shoulder"]] < 95 and t_pose[P["l_shoulder"]] == t_pose[P["r_shoulder"]]
    assert 165 < arms_up[P["l_shoulder"]] < 195
    assert abs(stand[P["l_shoulder"]]) < 20 and abs(stand[P["l_hip"]]) < 5
    squat = forward_kinematics(KEY_POSES["squat"].params())
    standing = forward_kinematics(KEY_POSES["stand"].params())
    assert squat[11, 1] < standing[11, 1] - 0.05  # the hips drop
    assert abs(squat[13, 0]) > abs(standing[13, 0]) + 0.05  # the knees open
    one_sided = anchor_params("Stand_LeftArmRaised", symmetric=False)
    assert one_sided[P["l_shoulder"]] > 100 > 30 > one_sided[P["r_shoulder"]]


def test_body_proportions_match_the_real_t_poses() -> None:
    t = load_real_poses().of("T")
    ok = t.present[:, [5, 6, 7, 9, 11, 12, 13, 15]].all(axis=1)
    pts = t.points[ok]
    torso = np.linalg.norm((pts[:, 5] + pts[:, 6] - pts[:, 11] - pts[:, 12]) / 2, axis=-1)
    shape = BodyShape()
    for (a, b), model in (
        ((5, 6), 2 * shape.shoulder_half),
        ((13, 15), shape.shank),
        ((7, 9), shape.forearm),
    ):
        ratio = np.median(np.linalg.norm(pts[:, a] - pts[:, b], axis=-1) / torso)
        assert ratio == pytest.approx(model / shape.torso, rel=0.15), (a, b)


def test_static_real_poses_are_classified_from_normalised_keypoints() -> None:
    real = load_real_poses()
    keep = np.arange(0, len(real.labels), 2)  # every other pose keeps the test fast
    names, labels = np.unique(real.labels[keep], return_inverse=True)
    features = pose_features(real.points[keep], real.present[keep])
    # Hold out whole runs of 100 consecutive poses (one recording session), not single frames.
    test = split_by_group(
        [f"{label}:{i // 100}" for i, label in zip(keep, real.labels[keep], strict=True)], 0.3, 0
    )
    report = fit_and_score(features, labels, test, len(names))
    assert report.test_accuracy > 0.85 > 3 * report.chance
