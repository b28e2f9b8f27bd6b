"""The synthetic actions: a table of key poses and, per action, their timing within one repetition.

Read this module as data. :data:`KEY_POSES` names every key pose as a base pose plus the joints it
changes (angles in degrees, conventions in :mod:`posebeam.synth.body`). ``real(...)``
bases are the median joint angles of real people in that class of the BodyPose dataset
(:mod:`posebeam.synth.keyposes`), so ``stand``, ``squat``, ``t_pose`` and ``arms_up`` are poses
people really take, and every hand-made pose starts from the real ``Stand``.
:data:`ACTIONS` lists each action's key poses at their time in a repetition (0 = start, 1 = end,
where the first pose comes back) and the named phase that starts at each key.

Between keys the pose follows a periodic monotone cubic (PCHIP) through the key poses: the motion
stops at the extremes and flows through monotone runs (arm circles), and never overshoots a held
pose. Classes differ in motion more than in any one frame: every rest-to-rest action starts and
ends standing, and ``lateral_raise``, ``jumping_jack`` and ``arm_circles`` pass through the same arm
positions.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from posebeam.synth.body import P, mirror_params
from posebeam.synth.keyposes import anchor_params


@dataclass(frozen=True)
class KeyPose:
    """A base pose (the median of a real class) with some parameters set to other values."""

    base: str = "Stand"
    joints: Mapping[str, float] = field(default_factory=dict)
    symmetric: bool = True

    def but(self, **joints: float) -> KeyPose:
        """The same pose with some more joints set."""
        return KeyPose(self.base, MappingProxyType({**self.joints, **joints}), self.symmetric)

    def params(self) -> np.ndarray:
        """``(P,)`` parameters of this pose."""
        out = np.array(anchor_params(self.base, self.symmetric))
        for name, value in self.joints.items():
            out[P[name]] = value
        return out


def real(label: str, symmetric: bool = True) -> KeyPose:
    """The median pose of real people in class ``label`` (left and right averaged if ``symmetric``)."""
    return KeyPose(label, MappingProxyType({}), symmetric)


def pose(**joints: float) -> KeyPose:
    """A hand-made key pose: real ``Stand`` with the given joints changed."""
    return real("Stand").but(**joints)


def _both(**joints: float) -> dict[str, float]:
    """The same value for the left and right joint: ``_both(shoulder=90)`` sets both shoulders."""
    return {f"{side}_{name}": value for name, value in joints.items() for side in "lr"}


KEY_POSES: dict[str, KeyPose] = {
    # Real anchors: median angles of real people (symmetrised).
    "stand": real("Stand"),
    # The dataset rescales each pose by its visible part lengths, which hides foreshortening: the
    # squat keeps its real angles but gets a hand-set thigh scale (thighs pointing at the camera).
    "squat": real("Squat").but(**_both(thigh_scale=0.6)),
    "t_pose": real("T"),
    "arms_up": real("Yoga_UpwardSalute").but(lift=0.02),  # up on the toes
    # Hand-made poses on the real Stand base.
    "idle_left": pose(torso_lean=2.5, head_tilt=3),
    "idle_right": pose(torso_lean=-2.5, head_tilt=-4),
    "wave_out": pose(r_shoulder=120, r_elbow=20),
    "wave_in": pose(r_shoulder=120, r_elbow=100),
    "two_wave_out": pose(**_both(shoulder=120, elbow=20)),
    "two_wave_in": pose(**_both(shoulder=120, elbow=100)),
    "jack_half": pose(**_both(shoulder=95, elbow=5, hip=10, knee=-4), lift=0.06),
    "jack_open": pose(**_both(shoulder=165, elbow=10, hip=19, knee=-6)),
    "circle_up": pose(**_both(shoulder=118, elbow=2)),
    "circle_front": pose(**_both(shoulder=90, elbow=2, upper_scale=0.8, fore_scale=0.75)),
    "circle_down": pose(**_both(shoulder=62, elbow=2)),
    "circle_back": pose(**_both(shoulder=90, elbow=2, upper_scale=0.92, fore_scale=0.9)),
    "march_mid": pose(**_both(elbow=-35, fore_scale=0.9)),
    "march_left": pose(
        l_hip=6, l_thigh_scale=0.3, l_knee=-6, l_elbow=-35, r_elbow=-75, r_upper_scale=0.9, r_fore_scale=0.6
    ),
    "march_right": pose(
        r_hip=6, r_thigh_scale=0.3, r_knee=-6, r_elbow=-35, l_elbow=-75, l_upper_scale=0.9, l_fore_scale=0.6
    ),
    "bow": pose(
        torso_scale=0.55, head_scale=-0.35, **_both(shoulder=4, elbow=-4, upper_scale=0.75, fore_scale=0.8)
    ),
    "kick_chamber": pose(
        r_hip=40,
        r_thigh_scale=0.8,
        r_knee=-95,
        r_shank_scale=0.85,
        torso_lean=6,
        **_both(shoulder=25, elbow=-100),
    ),
    "kick_extend": pose(r_hip=72, r_knee=-4, torso_lean=16, **_both(shoulder=30, elbow=-95)),
    "clap_apart": pose(**_both(shoulder=30, elbow=-136, upper_scale=0.75, fore_scale=0.32)),
    "clap_together": pose(**_both(shoulder=20, elbow=-102, upper_scale=0.75, fore_scale=0.9)),
    "arms_front": pose(**_both(shoulder=10, elbow=0, upper_scale=0.12, fore_scale=0.12)),
    "arms_front_up": pose(**_both(shoulder=175, elbow=0, upper_scale=0.12, fore_scale=0.12)),
}


@dataclass(frozen=True)
class Action:
    """One action: key poses at their time in a repetition, and the phase each key starts.

    Attributes:
        name: the label written to the label tables.
        period_s: seconds per repetition at speed 1.
        keys: ``(time in [0, 1], key pose name, phase starting here)``; the last key is at 1 with the
            first key's pose (its phase is unused).
        rest_to_rest: a repetition starts and ends standing, so repetitions chain without blending.
        one_sided: done with one side; instances are mirrored at random.
    """

    name: str
    period_s: float
    keys: tuple[tuple[float, str, str], ...]
    rest_to_rest: bool = False
    one_sided: bool = False

    @property
    def phases(self) -> tuple[str, ...]:
        """Phase names in order of their first key, without repeats."""
        return tuple(dict.fromkeys(phase for _, _, phase in self.keys[:-1]))


IDLE = Action("idle", 4.0, ((0.0, "idle_left", "idle"), (0.5, "idle_right", "idle"), (1.0, "idle_left", "")))
"""Standing with a slow sway: the background between actions of a sequence."""


def _actions(*actions: Action) -> dict[str, Action]:
    return {action.name: action for action in actions}


# fmt: off
ACTIONS: dict[str, Action] = _actions(
    Action("wave", period_s=0.9, one_sided=True, keys=(
        (0.00, "wave_out", "swing_in"),
        (0.50, "wave_in", "swing_out"),
        (1.00, "wave_out", ""),
    )),
    Action("two_hand_wave", period_s=1.0, keys=(
        (0.00, "two_wave_out", "swing_in"),
        (0.50, "two_wave_in", "swing_out"),
        (1.00, "two_wave_out", ""),
    )),
    Action("squat", period_s=2.4, rest_to_rest=True, keys=(
        (0.00, "stand", "descend"),
        (0.40, "squat", "bottom"),
        (0.55, "squat", "ascend"),
        (0.95, "stand", "rest"),
        (1.00, "stand", ""),
    )),
    Action("jumping_jack", period_s=1.2, rest_to_rest=True, keys=(
        (0.00, "stand", "jump_open"),
        (0.25, "jack_half", "land_open"),
        (0.50, "jack_open", "jump_close"),
        (0.75, "jack_half", "land_close"),
        (1.00, "stand", ""),
    )),
    Action("arm_circles", period_s=1.1, keys=(
        (0.00, "circle_up", "forward"),
        (0.25, "circle_front", "down"),
        (0.50, "circle_down", "back"),
        (0.75, "circle_back", "up"),
        (1.00, "circle_up", ""),
    )),
    Action("walk_in_place", period_s=1.3, keys=(
        (0.00, "march_mid", "left_up"),
        (0.25, "march_left", "left_down"),
        (0.50, "march_mid", "right_up"),
        (0.75, "march_right", "right_down"),
        (1.00, "march_mid", ""),
    )),
    Action("bow", period_s=2.6, rest_to_rest=True, keys=(
        (0.00, "stand", "bend"),
        (0.35, "bow", "hold"),
        (0.55, "bow", "rise"),
        (0.90, "stand", "rest"),
        (1.00, "stand", ""),
    )),
    Action("reach_up", period_s=2.4, rest_to_rest=True, keys=(
        (0.00, "stand", "raise"),  # forward and up: the arms point at the camera half-way
        (0.15, "arms_front", "raise"),
        (0.18, "arms_front_up", "raise"),
        (0.35, "arms_up", "stretch"),
        (0.55, "arms_up", "lower"),
        (0.72, "arms_front_up", "lower"),
        (0.75, "arms_front", "lower"),
        (0.90, "stand", "rest"),
        (1.00, "stand", ""),
    )),
    Action("kick", period_s=1.6, rest_to_rest=True, one_sided=True, keys=(
        (0.00, "stand", "chamber"),
        (0.30, "kick_chamber", "extend"),
        (0.45, "kick_extend", "retract"),
        (0.60, "kick_chamber", "recover"),
        (0.85, "stand", "rest"),
        (1.00, "stand", ""),
    )),
    Action("clap", period_s=0.6, keys=(
        (0.00, "clap_apart", "close"),
        (0.45, "clap_together", "open"),
        (1.00, "clap_apart", ""),
    )),
    Action("lateral_raise", period_s=2.2, rest_to_rest=True, keys=(
        (0.00, "stand", "raise"),  # sideways: the arms stay in the image plane
        (0.40, "t_pose", "hold"),
        (0.55, "t_pose", "lower"),
        (0.95, "stand", "rest"),
        (1.00, "stand", ""),
    )),
)
# fmt: on
"""The action classes, in label order."""


@functools.lru_cache(maxsize=64)
def key_matrix(action_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Key times ``(K,)`` and key pose parameters ``(K, P)`` of an action (or ``idle``)."""
    action = IDLE if action_name == IDLE.name else ACTIONS[action_name]
    times = np.array([t for t, _, _ in action.keys], dtype=np.float64)
    values = np.stack([KEY_POSES[name].params() for _, name, _ in action.keys])
    if (
        times[0] != 0
        or times[-1] != 1
        or np.any(np.diff(times) <= 0)
        or action.keys[0][1] != action.keys[-1][1]
    ):
        raise ValueError(f"action {action.name}: keys must run from 0 to 1 and end on the first pose")
    times.setflags(write=False)
    values.setflags(write=False)
    return times, values


def periodic_pchip(times: np.ndarray, values: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Monotone piecewise-cubic (Fritsch–Carlson) interpolation of a periodic key sequence.

    Args:
        times: ``(K,)`` increasing, from 0 to 1; ``values[-1]`` equals ``values[0]``.
        values: ``(K, D)``.
        u: ``(T,)`` positions; taken modulo 1.

    Returns:
        ``(T, D)``. Slopes are 0 at local extrema, so a key that is an extreme is a stop.
    """
    h = np.diff(times)  # (K-1,)
    delta = np.diff(values, axis=0) / h[:, None]  # (K-1, D)
    prev_d, next_d = np.roll(delta, 1, axis=0), delta  # slopes on either side of keys 0..K-2
    prev_h, next_h = np.roll(h, 1)[:, None], h[:, None]
    w1, w2 = 2 * next_h + prev_h, next_h + 2 * prev_h
    same_sign = prev_d * next_d > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = (w1 + w2) / (w1 / prev_d + w2 / next_d)
    slopes = np.where(same_sign, harmonic, 0.0)
    slopes = np.vstack([slopes, slopes[:1]])  # the last key is the first one again
    u = np.mod(u, 1.0)
    seg = np.clip(np.searchsorted(times, u, side="right") - 1, 0, len(h) - 1)
    s = ((u - times[seg]) / h[seg])[:, None]
    hh = h[seg][:, None]
    h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
    return h00 * values[seg] + h10 * hh * slopes[seg] + h01 * values[seg + 1] + h11 * hh * slopes[seg + 1]


def action_pose(action_name: str, u: np.ndarray, mirror: bool = False) -> np.ndarray:
    """``(T, P)`` pose parameters at repetition positions ``u`` (``(T,)``, fractions of a repetition)."""
    times, values = key_matrix(action_name)
    out = periodic_pchip(times, values, u)
    return mirror_params(out) if mirror else out


def action_phase(action_name: str, u: np.ndarray) -> np.ndarray:
    """``(T,)`` the phase name at repetition positions ``u``."""
    action = IDLE if action_name == IDLE.name else ACTIONS[action_name]
    times = np.array([t for t, _, _ in action.keys])
    names = np.array([phase for _, _, phase in action.keys], dtype=object)
    return names[np.clip(np.searchsorted(times, np.mod(u, 1.0), side="right") - 1, 0, len(times) - 2)]
