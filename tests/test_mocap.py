"""Motion-capture readers: properties a wrong reader breaks, and a hand-checked frame."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from posebeam.synth.mocap import MOTION_DATA, Motion, read_bvh, read_deepmimic

DEEPMIMIC = sorted((MOTION_DATA / "deepmimic").glob("humanoid3d_*.txt.gz"))
DEEPMIMIC += sorted((MOTION_DATA / "deepmimic_walker").glob("*.txt.gz"))
BVH = sorted((MOTION_DATA / "cmu").glob("*.bvh.gz"))
BONES = {"upper arm": (5, 7), "forearm": (7, 9), "thigh": (11, 13), "shin": (13, 15), "hips": (11, 12)}


def _facing(joints: np.ndarray) -> np.ndarray:
    """Forward directions ``(T, 3)`` from the hips: (left hip − right hip) × up."""
    return np.cross(joints[:, 11] - joints[:, 12], [0.0, 1.0, 0.0])


@pytest.fixture(scope="module", params=DEEPMIMIC + BVH, ids=lambda p: p.name.split(".")[0])
def motion(request: pytest.FixtureRequest) -> Motion:
    path: Path = request.param
    return read_deepmimic(path) if path.name.endswith(".txt.gz") else read_bvh(path)


def test_every_shipped_motion_is_read(motion: Motion) -> None:
    assert motion.joints.shape == (motion.num_frames, 17, 3) and motion.num_frames >= 25
    assert np.isfinite(motion.joints).all() and 10 <= motion.fps <= 121


def test_bone_lengths_stay_constant_over_time(motion: Motion) -> None:
    for name, (a, b) in BONES.items():
        length = np.linalg.norm(motion.joints[:, a] - motion.joints[:, b], axis=-1)
        assert length.std() < 1e-6 * length.mean(), name
        assert 0.1 < length.mean() < 0.6, f"{name}: {length.mean():.2f} m"


def test_the_floor_is_under_the_feet(motion: Motion) -> None:
    """Whatever the motion, no joint goes deep under the lowest ankle position, which is near 0."""
    ankles = motion.joints[:, 15:17, 1]
    assert -0.05 < ankles.min() < 0.15
    assert motion.joints[..., 1].min() > ankles.min() - 0.45  # a hand on the floor, a roll


@pytest.mark.parametrize("name", ["walk", "run", "punch", "dance_a", "jump"])
def test_upright_motions_face_where_the_face_is_and_left_is_left(name: str) -> None:
    """Left/right swapped would turn the hips' forward direction against the face."""
    joints = read_deepmimic(MOTION_DATA / "deepmimic" / f"humanoid3d_{name}.txt.gz").joints
    nose_forward = joints[:, 0] - (joints[:, 3] + joints[:, 4]) / 2
    assert (np.sum(_facing(joints) * nose_forward, axis=-1) > 0).mean() > 0.95
    left_side = np.sum(
        (joints[:, [5, 7, 9, 11, 13, 15]] - joints[:, [6, 8, 10, 12, 14, 16]]) * _facing(joints)[:, None], -1
    )
    assert np.abs(left_side).mean() < 0.2, "left joints are beside, not in front of, the right ones"


def test_walkers_walk_forward() -> None:
    for path in ("humanoid3d_walk.txt.gz", "humanoid3d_run.txt.gz"):
        joints = read_deepmimic(MOTION_DATA / "deepmimic" / path).joints
        hips = (joints[:, 11] + joints[:, 12]) / 2
        step = np.sum(np.diff(hips, axis=0) * _facing(joints)[1:], axis=-1)
        assert (step > 0).mean() > 0.95 and np.linalg.norm(hips[-1] - hips[0]) > 0.3


def test_the_cmu_capture_starts_in_a_t_pose_standing_on_the_floor() -> None:
    first = read_bvh(MOTION_DATA / "cmu" / "01_01.bvh.gz").joints[0]
    shoulders, wrists = first[[5, 6]], first[[9, 10]]
    assert np.abs(wrists[:, 1] - shoulders[:, 1]).max() < 0.08, "arms out sideways"
    assert np.abs(wrists[:, 0] - shoulders[:, 0]).min() > 0.4, "…and stretched"
    assert 1.3 < first[0, 1] - first[15:17, 1].mean() < 1.8, "nose above ankles by a person's height"


def test_a_deepmimic_rest_frame_checked_by_hand(tmp_path: Path) -> None:
    """Every rotation the identity, root at (1, 0.9, 2): the bones hang straight from the URDF
    offsets × 0.25 (thigh 1.686184, shin 1.639480; hips ±0.339548 on z; left is −z)."""
    identity = [1.0, 0.0, 0.0, 0.0]
    frame = [1 / 30, 1.0, 0.9, 2.0, *identity]
    for width in (4, 4, 4, 1, 4, 4, 1, 4, 1, 4, 4, 1):
        frame += identity if width == 4 else [0.0]
    path = tmp_path / "rest.txt.gz"
    path.write_bytes(gzip.compress(json.dumps({"Loop": "none", "Frames": [frame, frame]}).encode()))
    joints = read_deepmimic(path).joints[0]
    np.testing.assert_allclose(joints[11], [1.0, 0.9, 2.0 - 0.339548 * 0.25], atol=1e-9)  # left hip
    np.testing.assert_allclose(joints[12], [1.0, 0.9, 2.0 + 0.339548 * 0.25], atol=1e-9)  # right hip
    np.testing.assert_allclose(
        joints[15], [1.0, 0.9 - (1.686184 + 1.639480) * 0.25, 2.0 - 0.084887], atol=1e-6
    )
    shoulder_y = 0.9 + (0.944604 + 0.974000) * 0.25
    np.testing.assert_allclose(joints[5], [1.0 - 0.0962 * 0.25, shoulder_y, 2.0 - 0.73244 * 0.25], atol=1e-9)
    np.testing.assert_allclose(joints[9, 1], shoulder_y - (1.099152 + 1.035788) * 0.25, atol=1e-9)
    assert joints[0, 0] > 1.0 + 0.09, "the nose points forward (+x)"


def test_the_shipped_motion_files_are_the_ones_the_provenance_notes_name() -> None:
    import hashlib
    import re

    notes = (MOTION_DATA / "README.md").read_text()
    recorded = {name: digest for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+/\S+\.gz)$", notes, re.M)}
    shipped = {f"{p.parent.name}/{p.name}": p for p in sorted(MOTION_DATA.glob("*/*.gz"))}
    assert set(recorded) == set(shipped) and len(shipped) == 25
    for name, path in shipped.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded[name], name
