"""Real human motion: motion-capture readers that give 3D COCO-17 skeletons.

Two formats, both shipped in ``synth/motion_data`` (provenance in its README):

- **DeepMimic** clips (the ``pybullet`` package's ``humanoid3d_*.txt``): JSON with ``"Loop"`` and
  ``"Frames"``, 44 numbers per frame: the frame's duration, the root position, then rotations in
  the humanoid's joint order (quaternions ``w, x, y, z``; one angle about the local z axis for
  knees and elbows). Bone offsets come from the humanoid's URDF, scaled by 0.25 as DeepMimic
  loads it. The character faces +x, y is up, its left is -z.
- **BVH** (the CMU captures of Debian's ``assimp-testmodels``): a joint hierarchy with offsets and
  per-joint channels (positions and Euler rotations in the file's order), then one line of
  channel values per frame. CMU's and MotionBuilder-style skeletons (both name maps below) face
  +z, y is up, their left is +x; lengths are scaled so the thigh is 0.43 m.

Forward kinematics gives each joint's world position; COCO-17 takes shoulders, elbows, wrists,
hips, knees and ankles from the joints of the same name, and the face (nose, eyes, ears) from the
head's centre and orientation. Every :class:`Motion` comes out y up, in metres, at its own frame
rate.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MOTION_DATA = Path(__file__).with_name("motion_data")
THIGH_M = 0.43
"""An adult's hip-to-knee length: BVH files come in inches, centimetres or their own units, so
each is scaled to this thigh length."""
DEEPMIMIC_SCALE = 0.25
"""DeepMimic loads ``humanoid.urdf`` with a global scaling of 0.25."""

WALKS = (
    "deepmimic/humanoid3d_walk",
    "deepmimic_walker/0walk_forward",
    "deepmimic_walker/turn_left0",
    "deepmimic_walker/turn_left1",
    "deepmimic_walker/turn_right0",
    "deepmimic_walker/turn_right1",
)
MOCAP_CLASSES: dict[str, tuple[str, ...]] = {
    "stand": (),
    "walk": (*WALKS, "cmu/01_03@0.2-2.6", "cmu/01_03@12.3-14.6"),
    "run": ("deepmimic/humanoid3d_run",),
    "jump": (
        "deepmimic/humanoid3d_jump",
        "cmu/01_01@1.4-4.4",
        "cmu/01_01@4.4-7.4",
        "cmu/01_01@10.2-13.7",
        "cmu/01_01@14.3-15.8",
        "cmu/01_01@17.9-22.7",
    ),
    "kick": ("deepmimic/humanoid3d_kick", "deepmimic/humanoid3d_spinkick"),
    "punch": (
        "deepmimic/humanoid3d_punch",
        "cmu/Boxing_Toes@0.5-4.7",
        "cmu/Boxing_Toes@4.7-8.9",
        "cmu/Boxing_Toes@8.9-13.1",
    ),
    "dance": ("deepmimic/humanoid3d_dance_a", "deepmimic/humanoid3d_dance_b"),
    "spin": ("deepmimic/humanoid3d_spin",),
    "cartwheel": ("deepmimic/humanoid3d_cartwheel",),
    "backflip": ("deepmimic/humanoid3d_backflip",),
    "crawl": ("deepmimic/humanoid3d_crawl",),
    "roll": ("deepmimic/humanoid3d_roll",),
    "get_up": (
        "deepmimic/humanoid3d_getup_faceup",
        "deepmimic/humanoid3d_getup_facedown",
        "cmu/Boxing_Toes@26.8-30.6",
    ),
}
"""Class → source motions: DeepMimic clips (files under ``synth/motion_data`` without
``.txt.gz``) and segments ``<capture>@<start>-<end>`` (seconds) of long CMU captures, cut where
the subject does the one thing: 01_01's hops (a flight of both feet in each segment; the turns
between them left out), 01_03's walks to and from the ladder, Boxing_Toes' punching (its footwork
and falling left out) and its getting up from the floor."""

HELD_OUT_SOURCES = frozenset(
    {
        "deepmimic/humanoid3d_walk",
        "deepmimic_walker/turn_left1",
        "deepmimic/humanoid3d_spinkick",
        "deepmimic/humanoid3d_dance_b",
        "deepmimic/humanoid3d_getup_facedown",
        "cmu/01_01@10.2-13.7",
        "cmu/Boxing_Toes@4.7-8.9",
    }
)
"""One capture (or capture segment) of every class that has several, kept for held-out evaluation
(``--split test``): no time range of a source is on both sides. The other classes have a single
capture: their test people replay it under new cameras, bodies, speeds and noise."""

SEGMENT_FPS = 30.0
"""Segments of long captures are resampled to this rate."""

SPLITS = ("all", "train", "test")


def class_sources(label: str, split: str) -> tuple[str, ...]:
    """The captures people of class ``label`` perform in ``split``: ``train`` leaves out
    :data:`HELD_OUT_SOURCES`, ``test`` keeps only them where the class has one, ``all`` uses all."""
    sources = MOCAP_CLASSES[label]
    held_out = tuple(s for s in sources if s in HELD_OUT_SOURCES)
    if split == "train":
        return tuple(s for s in sources if s not in HELD_OUT_SOURCES)
    if split == "test" and held_out:
        return held_out
    return sources


# Face points in a head frame with axes (forward, up, left), in head radii from the head's centre.
FACE = np.array(
    [
        [0.95, -0.15, 0.0],  # nose
        [0.80, 0.15, 0.35],  # left eye
        [0.80, 0.15, -0.35],  # right eye
        [0.05, 0.05, 0.95],  # left ear
        [0.05, 0.05, -0.95],  # right ear
    ]
)


@dataclass(frozen=True)
class Motion:
    """A captured motion: ``joints (T, 17, 3)`` COCO-17 world positions in metres (y up)."""

    name: str
    fps: float
    joints: np.ndarray
    loop: bool
    source: str

    @property
    def num_frames(self) -> int:
        return len(self.joints)


def open_text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8").replace("\x00", "")


def quaternion_matrices(q: np.ndarray) -> np.ndarray:
    """``(..., 4)`` quaternions ``w, x, y, z`` (normalised here) → ``(..., 3, 3)`` rotations."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def axis_matrices(axis: str, angles: np.ndarray) -> np.ndarray:
    """``(T,)`` angles in radians about ``"x"``, ``"y"`` or ``"z"`` → ``(T, 3, 3)`` rotations."""
    c, s = np.cos(angles), np.sin(angles)
    one, zero = np.ones_like(c), np.zeros_like(c)
    rows = {
        "x": [[one, zero, zero], [zero, c, -s], [zero, s, c]],
        "y": [[c, zero, s], [zero, one, zero], [-s, zero, c]],
        "z": [[c, -s, zero], [s, c, zero], [zero, zero, one]],
    }[axis]
    return np.stack([np.stack(row, -1) for row in rows], -2)


def face_points(centre: np.ndarray, rotation: np.ndarray, radius: float, axes: np.ndarray) -> np.ndarray:
    """``(T, 5, 3)`` nose, eyes, ears around a head ``centre (T, 3)`` turned by ``rotation
    (T, 3, 3)``; ``axes (3, 3)`` are the head's forward, up and left directions at rest."""
    local = FACE @ axes * radius  # (5, 3) in the head's rest frame
    return centre[:, None, :] + np.einsum("tij,kj->tki", rotation, local)


def coco(face: np.ndarray, named: dict[str, np.ndarray], side: dict[str, str]) -> np.ndarray:
    """COCO-17 ``(T, 17, 3)`` from the face points and ``side``'s joint names per COCO limb joint."""
    order = ["shoulder", "elbow", "wrist", "hip", "knee", "ankle"]
    body = [named[side[f"{lr}_{part}"]] for part in order for lr in ("left", "right")]
    return np.concatenate([face, np.stack(body, axis=1)], axis=1)


# --- DeepMimic -------------------------------------------------------------------------------

DEEPMIMIC_LAYOUT = [
    ("chest", 4), ("neck", 4), ("right_hip", 4), ("right_knee", 1), ("right_ankle", 4),
    ("right_shoulder", 4), ("right_elbow", 1), ("left_hip", 4), ("left_knee", 1), ("left_ankle", 4),
    ("left_shoulder", 4), ("left_elbow", 1),
]  # fmt: skip
"""Rotations after the duration, root position (3) and root rotation (4), in file order."""


def urdf_joints(text: str) -> dict[str, tuple[str, np.ndarray]]:
    """``child link → (parent link, origin xyz)`` of every joint of a URDF."""
    joints = {}
    for match in re.finditer(r"<joint\s+name\s*=\s*\"[^\"]+\"[^>]*>(.*?)</joint>", text, re.S):
        body = match.group(1)
        parent = re.search(r"<parent\s+link\s*=\s*\"([^\"]+)\"", body)
        child = re.search(r"<child\s+link\s*=\s*\"([^\"]+)\"", body)
        origin = re.search(r"<origin[^>]*xyz\s*=\s*\"([^\"]+)\"", body)
        if parent and child and origin:
            joints[child.group(1)] = (parent.group(1), np.array([float(v) for v in origin.group(1).split()]))
    return joints


def read_deepmimic(path: Path, urdf: Path | None = None) -> Motion:
    """A DeepMimic humanoid clip as COCO-17 (``urdf``: the humanoid's bone offsets)."""
    record = json.loads(open_text(path))
    frames = np.asarray(record["Frames"], dtype=np.float64)
    offsets = urdf_joints(open_text(urdf or MOTION_DATA / "deepmimic" / "humanoid.urdf.gz"))
    count = len(frames)
    position = {"root": frames[:, 1:4]}
    rotation = {"root": quaternion_matrices(frames[:, 4:8])}
    local: dict[str, np.ndarray] = {}
    column = 8
    for name, width in DEEPMIMIC_LAYOUT:
        values = frames[:, column : column + width]
        local[name] = quaternion_matrices(values) if width == 4 else axis_matrices("z", values[:, 0])
        column += width
    for link in ("chest", "neck", "right_hip", "right_knee", "right_ankle", "right_shoulder", "right_elbow",
                 "right_wrist", "left_hip", "left_knee", "left_ankle", "left_shoulder", "left_elbow",
                 "left_wrist"):  # fmt: skip
        parent, offset = offsets[link]
        position[link] = position[parent] + rotation[parent] @ (offset * DEEPMIMIC_SCALE)
        rotation[link] = rotation[parent] @ local[link] if link in local else rotation[parent]
    head_axes = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, -1.0]])  # forward +x, up +y, left -z
    centre = position["neck"] + rotation["neck"] @ (np.array([0.0, 0.70, 0.0]) * DEEPMIMIC_SCALE)
    face = face_points(centre, rotation["neck"], 0.41 * DEEPMIMIC_SCALE, head_axes)
    side = {f"{lr}_{part}": f"{lr}_{part}" for lr in ("left", "right")
            for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")}  # fmt: skip
    joints = coco(face, position, side)
    fps = 1.0 / float(np.median(frames[:, 0])) if count else 30.0
    name = path.name.split(".")[0].removeprefix("humanoid3d_")
    return Motion(name, fps, joints, record.get("Loop") == "wrap", f"deepmimic:{path.name}")


# --- BVH -------------------------------------------------------------------------------------


@dataclass
class _BvhJoint:
    name: str
    parent: int
    offset: np.ndarray
    channels: list[str]
    end: np.ndarray | None = None  # the End Site offset, when the joint has one


def _parse_hierarchy(lines: Sequence[str]) -> tuple[list[_BvhJoint], int]:
    joints: list[_BvhJoint] = []
    stack: list[int] = []
    in_end = False
    for number, raw in enumerate(lines):
        words = raw.split()
        if not words:
            continue
        head = words[0]
        if head in ("ROOT", "JOINT"):
            joints.append(_BvhJoint(words[1], stack[-1] if stack else -1, np.zeros(3), []))
        elif head == "End":
            in_end = True
        elif head == "OFFSET":
            offset = np.array([float(v) for v in words[1:4]])
            if in_end:
                joints[stack[-1]].end = offset
            else:
                joints[-1].offset = offset
        elif head == "CHANNELS":
            joints[-1].channels = words[2 : 2 + int(words[1])]
        elif head == "{":
            if not in_end:
                stack.append(len(joints) - 1)
        elif head == "}":
            if in_end:
                in_end = False
            else:
                stack.pop()
        elif head == "MOTION":
            return joints, number
    raise ValueError("BVH file has no MOTION section")


def bvh_positions(text: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float]:
    """World positions ``(T, 3)`` (file units) and rotations ``(T, 3, 3)`` of every BVH joint
    (plus ``"<name>_end"`` for End Sites), and the frame rate."""
    lines = text.splitlines()
    joints, motion_line = _parse_hierarchy(lines)
    frame_time = float(lines[motion_line + 2].split(":")[1])
    values = np.loadtxt(lines[motion_line + 3 :], dtype=np.float64, ndmin=2)
    positions: dict[str, np.ndarray] = {}
    rotations: dict[str, np.ndarray] = {}
    column = 0
    count = len(values)
    for joint in joints:
        rotation = np.broadcast_to(np.eye(3), (count, 3, 3)).copy()
        translation = np.broadcast_to(joint.offset, (count, 3)).copy()
        for channel in joint.channels:
            axis, kind = channel[0].lower(), channel[1:]
            if kind == "position":
                translation[:, "xyz".index(axis)] = values[:, column]
            else:
                rotation = rotation @ axis_matrices(axis, np.radians(values[:, column]))
            column += 1
        if joint.parent < 0:
            positions[joint.name], rotations[joint.name] = translation, rotation
        else:
            parent = joints[joint.parent].name
            positions[joint.name] = positions[parent] + np.einsum(
                "tij,tj->ti", rotations[parent], translation
            )
            rotations[joint.name] = rotations[parent] @ rotation
        if joint.end is not None:
            positions[f"{joint.name}_end"] = positions[joint.name] + rotations[joint.name] @ (joint.end)
    return positions, rotations, 1.0 / frame_time


BVH_SIDES = (
    {"left_shoulder": "LeftArm", "left_elbow": "LeftForeArm", "left_wrist": "LeftHand",
     "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot",
     "right_shoulder": "RightArm", "right_elbow": "RightForeArm", "right_wrist": "RightHand",
     "right_hip": "RightUpLeg", "right_knee": "RightLeg", "right_ankle": "RightFoot"},  # CMU (cgspeed)
    {"left_shoulder": "LeftShoulder", "left_elbow": "LeftElbow", "left_wrist": "LeftWrist",
     "left_hip": "LeftHip", "left_knee": "LeftKnee", "left_ankle": "LeftAnkle",
     "right_shoulder": "RightShoulder", "right_elbow": "RightElbow", "right_wrist": "RightWrist",
     "right_hip": "RightHip", "right_knee": "RightKnee", "right_ankle": "RightAnkle"},  # MotionBuilder
)  # fmt: skip
"""COCO joint → BVH joint name, for each naming scheme read here."""


def read_bvh(path: Path) -> Motion:
    """A BVH capture as COCO-17; the head is the segment from ``Head`` to its End Site."""
    positions, rotations, fps = bvh_positions(open_text(path))
    sides = next((s for s in BVH_SIDES if set(s.values()) <= positions.keys()), None)
    if sides is None:
        raise ValueError(f"{path.name}: joint names of no known skeleton ({', '.join(sorted(positions))})")
    thigh = np.median(np.linalg.norm(positions[sides["left_knee"]] - positions[sides["left_hip"]], axis=-1))
    scale = THIGH_M / float(thigh)
    positions = {name: value * scale for name, value in positions.items()}
    head, top = positions["Head"], positions["Head_end"]
    centre = (head + top) / 2
    radius = float(np.median(np.linalg.norm(top - head, axis=-1))) * 0.6
    head_axes = np.array([[0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0]])  # forward +z, up +y, left +x
    face = face_points(centre, rotations["Head"], radius, head_axes)
    joints = coco(face, positions, sides)
    return Motion(path.name.split(".")[0], fps, joints, False, f"bvh:{path.name}")


@functools.cache
def _capture(path: str) -> Motion:
    return read_bvh(MOTION_DATA / f"{path}.bvh.gz")


def read_source(name: str) -> Motion:
    """A source motion of :data:`MOCAP_CLASSES` by name: a DeepMimic clip, or a segment
    ``<capture>@<start>-<end>`` of a long BVH capture, resampled to :data:`SEGMENT_FPS` and not
    looped."""
    path, _, span = name.partition("@")
    if not span:
        return read_deepmimic(MOTION_DATA / f"{path}.txt.gz")
    whole = _capture(path)
    start, end = (float(value) for value in span.split("-"))
    if not 0 <= start < end <= whole.num_frames / whole.fps:
        raise ValueError(
            f"{name}: the segment is not inside the capture's {whole.num_frames / whole.fps:.1f} s"
        )
    position = np.arange(start, end, 1 / SEGMENT_FPS) * whole.fps
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, whole.num_frames - 1)
    weight = (position - low)[:, None, None]
    joints = (1 - weight) * whole.joints[low] + weight * whole.joints[high]
    return Motion(name, SEGMENT_FPS, joints, False, f"{whole.source}@{span}s")
