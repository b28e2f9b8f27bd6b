"""A 2D kinematic tree with human proportions that poses a COCO-17 skeleton from joint angles.

The body faces the camera. Body units: standing height = 1, the floor at ``y = 0``, **y up**, x
toward the person's left (the image's right). Each segment has an angle in the image plane and a
*scale* in [0, 1] that stands in for out-of-plane rotation (foreshortening: a thigh pointing at the
camera is short); the head's scale may be negative (face turned down, nose below the neck).

Angles are degrees, mirrored per side so one number means the same for both sides:

- arms (``*_shoulder``), relative to the torso: 0 hangs along the torso, 90 points straight out
  sideways, 180 points up, negative crosses in front of the body;
- legs (``*_hip``), relative to the vertical (the pelvis does not tilt): 0 down, positive outward;
- elbows and knees: the forearm / shank angle *added* to the parent's (0 = straight);
- ``torso_lean``: positive leans toward the person's left; ``head_tilt`` likewise, relative to it;
- ``lift``: extra height of the whole body above the floor (jumps, rising on the toes).

After posing, the body is lowered or raised so that its lowest ankle stands at ankle height: feet
stay on the floor whatever the knees do.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

PARAMS: tuple[str, ...] = (
    "torso_lean",
    "torso_scale",
    "head_tilt",
    "head_scale",
    "l_shoulder",
    "l_elbow",
    "l_upper_scale",
    "l_fore_scale",
    "r_shoulder",
    "r_elbow",
    "r_upper_scale",
    "r_fore_scale",
    "l_hip",
    "l_knee",
    "l_thigh_scale",
    "l_shank_scale",
    "r_hip",
    "r_knee",
    "r_thigh_scale",
    "r_shank_scale",
    "lift",
)
"""Pose parameters, in the order of the last axis of every parameter array ``(..., P)``."""

P = {name: i for i, name in enumerate(PARAMS)}
NUM_PARAMS = len(PARAMS)
ANGLE_PARAMS = frozenset(n for n in PARAMS if not n.endswith("scale") and n != "lift")

_NEUTRAL = {name: 1.0 if name.endswith("scale") else 0.0 for name in PARAMS}


def neutral_params() -> np.ndarray:
    """``(P,)``: upright, arms and legs straight down, every segment in the image plane."""
    return np.array([_NEUTRAL[name] for name in PARAMS])


def mirror_params(params: np.ndarray) -> np.ndarray:
    """Swap the left and right limbs and negate the leans: the same motion done by the other side."""
    params = np.asarray(params, dtype=np.float64)
    out = params.copy()
    for i, name in enumerate(PARAMS):
        if name[:2] in ("l_", "r_"):
            out[..., i] = params[..., P[("r_" if name[0] == "l" else "l_") + name[2:]]]
    out[..., P["torso_lean"]] *= -1
    out[..., P["head_tilt"]] *= -1
    return out


@dataclass(frozen=True)
class BodyShape:
    """Segment lengths and half-widths in body heights.

    Defaults: median ratios to the torso (neck to mid-hip) of OpenPose poses in the T class of
    pose-classification-kit's BodyPose dataset (shoulders 0.64, hips 0.42, upper arm 0.52, forearm
    0.49, thigh 0.74, shank 0.70, neck to nose 0.33), with the torso at 0.32 of the standing height.
    ``width`` < 1 narrows the body as a turn away from the camera would (shoulders, hips, face).
    """

    torso: float = 0.32
    head: float = 0.105
    shoulder_half: float = 0.102
    hip_half: float = 0.067
    upper_arm: float = 0.166
    forearm: float = 0.15
    thigh: float = 0.24
    shank: float = 0.235
    ankle_height: float = 0.04
    eye_half: float = 0.02
    eye_up: float = 0.016
    ear_half: float = 0.05
    ear_up: float = 0.0
    width: float = 1.0

    def varied(
        self, rng: np.random.Generator, spread: float = 0.05, width: tuple[float, float] = (0.7, 1.0)
    ) -> BodyShape:
        """A person of the same build with every length scaled by ``N(1, spread)``, clipped to ±3σ."""
        factors = np.clip(1.0 + spread * rng.standard_normal(len(_LENGTHS)), 1 - 3 * spread, 1 + 3 * spread)
        values = {name: float(getattr(self, name) * f) for name, f in zip(_LENGTHS, factors, strict=True)}
        return dataclasses.replace(self, **values, width=float(rng.uniform(*width)))


_LENGTHS = tuple(name for name in BodyShape.__dataclass_fields__ if name != "width")


def _side_direction(angle_deg: np.ndarray, side: float, right: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Unit vector(s) at ``angle`` from "down" toward the ``side`` (+1 left, -1 right), ``(..., 2)``."""
    a = np.deg2rad(angle_deg)[..., None]
    return side * np.sin(a) * right - np.cos(a) * up


def forward_kinematics(params: np.ndarray, shape: BodyShape | None = None) -> np.ndarray:
    """COCO-17 joint positions for pose parameters.

    Args:
        params: ``(..., P)`` in the order of :data:`PARAMS` (degrees, scales, body heights).
        shape: the person's proportions (default: :class:`BodyShape`).

    Returns:
        ``(..., 17, 2)`` positions in body units (y up, floor at 0).
    """
    s = shape or BodyShape()
    p = np.asarray(params, dtype=np.float64)
    out = np.zeros((*p.shape[:-1], 17, 2))
    world_up = np.array([0.0, 1.0])
    world_right = np.array([1.0, 0.0])

    lean = np.deg2rad(p[..., P["torso_lean"]])[..., None]
    up = np.concatenate([np.sin(lean), np.cos(lean)], axis=-1)  # torso axis, pelvis to neck
    right = np.concatenate([np.cos(lean), -np.sin(lean)], axis=-1)  # toward the person's left
    neck = s.torso * p[..., P["torso_scale"], None] * up

    tilt = np.deg2rad(p[..., P["head_tilt"]])[..., None]
    head_up = np.cos(tilt) * up + np.sin(tilt) * right
    head_right = np.cos(tilt) * right - np.sin(tilt) * up
    head_scale = p[..., P["head_scale"], None]
    nose = neck + s.head * head_scale * head_up
    out[..., 0, :] = nose
    for side, eye, ear in ((1.0, 1, 3), (-1.0, 2, 4)):
        out[..., eye, :] = nose + side * s.eye_half * s.width * head_right + s.eye_up * head_scale * head_up
        out[..., ear, :] = nose + side * s.ear_half * s.width * head_right + s.ear_up * head_scale * head_up

    for side, pre, (sh, el, wr) in ((1.0, "l_", (5, 7, 9)), (-1.0, "r_", (6, 8, 10))):
        shoulder = neck + side * s.shoulder_half * s.width * right
        upper = p[..., P[pre + "shoulder"]]
        elbow = shoulder + s.upper_arm * p[..., P[pre + "upper_scale"], None] * _side_direction(
            upper, side, right, up
        )
        fore = upper + p[..., P[pre + "elbow"]]
        wrist = elbow + s.forearm * p[..., P[pre + "fore_scale"], None] * _side_direction(
            fore, side, right, up
        )
        out[..., sh, :], out[..., el, :], out[..., wr, :] = shoulder, elbow, wrist

    for side, pre, (hp, kn, an) in ((1.0, "l_", (11, 13, 15)), (-1.0, "r_", (12, 14, 16))):
        hip = np.broadcast_to(side * s.hip_half * s.width * world_right, neck.shape)
        thigh = p[..., P[pre + "hip"]]
        knee = hip + s.thigh * p[..., P[pre + "thigh_scale"], None] * _side_direction(
            thigh, side, world_right, world_up
        )
        shank = thigh + p[..., P[pre + "knee"]]
        ankle = knee + s.shank * p[..., P[pre + "shank_scale"], None] * _side_direction(
            shank, side, world_right, world_up
        )
        out[..., hp, :], out[..., kn, :], out[..., an, :] = hip, knee, ankle

    floor_shift = s.ankle_height - np.minimum(out[..., 15, 1], out[..., 16, 1]) + p[..., P["lift"]]
    out[..., 1] += floor_shift[..., None]
    return out


def _angle_from_down(vec: np.ndarray, side: float, right: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_side_direction`: degrees in [-90, 270) from "down" toward ``side``."""
    out = np.rad2deg(np.arctan2(side * np.sum(vec * right, -1), -np.sum(vec * up, -1)))
    return np.where(out < -90, out + 360, out)


def _wrap(deg: np.ndarray) -> np.ndarray:
    return (deg + 180.0) % 360.0 - 180.0


def inverse_kinematics(points: np.ndarray, present: np.ndarray, shape: BodyShape | None = None) -> np.ndarray:
    """Pose parameters that :func:`forward_kinematics` maps back onto observed joints.

    Args:
        points: ``(..., 17, 2)`` COCO-17 positions in body units, **y up** (flip image y first).
        present: ``(..., 17)`` bool, False for a missing joint.
        shape: the proportions that scales are measured against.

    Returns:
        ``(..., P)``; a parameter whose joints are missing is NaN. Scales are clipped to [0, 1.2]
        (the head's to [-1.2, 1.2]); ``lift`` is 0.
    """
    s = shape or BodyShape()
    pts = np.where(np.asarray(present)[..., None], np.asarray(points, dtype=np.float64), np.nan)
    out = np.full((*pts.shape[:-2], NUM_PARAMS), np.nan)
    world_up, world_right = np.array([0.0, 1.0]), np.array([1.0, 0.0])
    pelvis = (pts[..., 11, :] + pts[..., 12, :]) / 2
    neck = (pts[..., 5, :] + pts[..., 6, :]) / 2
    torso = neck - pelvis
    torso_len = np.linalg.norm(torso, axis=-1)
    out[..., P["torso_lean"]] = np.rad2deg(np.arctan2(torso[..., 0], torso[..., 1]))
    out[..., P["torso_scale"]] = np.clip(torso_len / s.torso, 0, 1.2)
    up = torso / torso_len[..., None]
    right = np.stack([up[..., 1], -up[..., 0]], axis=-1)

    head = pts[..., 0, :] - neck
    tilt = np.rad2deg(np.arctan2(np.sum(head * right, -1), np.sum(head * up, -1)))
    facing_down = np.abs(tilt) > 90
    out[..., P["head_tilt"]] = np.where(facing_down, _wrap(tilt + 180), tilt)
    head_len = np.linalg.norm(head, axis=-1) / s.head
    out[..., P["head_scale"]] = np.clip(np.where(facing_down, -head_len, head_len), -1.2, 1.2)

    limbs = (
        ("l_", 1.0, (5, 7, 9), ("shoulder", "elbow", "upper_scale", "fore_scale"), (s.upper_arm, s.forearm)),
        (
            "r_",
            -1.0,
            (6, 8, 10),
            ("shoulder", "elbow", "upper_scale", "fore_scale"),
            (s.upper_arm, s.forearm),
        ),
        ("l_", 1.0, (11, 13, 15), ("hip", "knee", "thigh_scale", "shank_scale"), (s.thigh, s.shank)),
        ("r_", -1.0, (12, 14, 16), ("hip", "knee", "thigh_scale", "shank_scale"), (s.thigh, s.shank)),
    )
    for pre, side, (a, b, c), (root, mid, first, second), (len1, len2) in limbs:
        frame_right, frame_up = (right, up) if root == "shoulder" else (world_right, world_up)
        seg1, seg2 = pts[..., b, :] - pts[..., a, :], pts[..., c, :] - pts[..., b, :]
        angle1 = _angle_from_down(seg1, side, frame_right, frame_up)
        angle2 = _angle_from_down(seg2, side, frame_right, frame_up)
        out[..., P[pre + root]] = angle1
        out[..., P[pre + mid]] = _wrap(angle2 - angle1)
        out[..., P[pre + first]] = np.clip(np.linalg.norm(seg1, axis=-1) / len1, 0, 1.2)
        out[..., P[pre + second]] = np.clip(np.linalg.norm(seg2, axis=-1) / len2, 0, 1.2)
    out[..., P["lift"]] = 0.0
    return out
