"""What one synthetic person does over time: plans of action segments, and their per-frame poses.

A *plan* is a list of :class:`Segment` (an action between two times, with the length of each of its
repetitions); :func:`perform` turns it into per-frame pose parameters and labels. Three kinds of plan
match the three uses of the data:

- ``clips``: one action for the whole video, entered at a random point of its cycle (classification);
- ``sequences``: actions separated by ``idle`` standing, cyclic actions blended in and out
  (segmentation);
- ``repetitions``: one rest-to-rest action repeated whole, with idle before and after (alignment).

Every instance varies: speed, amplitude, repetition-to-repetition tempo, time warp inside a
repetition, a personal offset on every joint, and the side of one-sided actions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posebeam.synth.actions import ACTIONS, IDLE, KEY_POSES, action_phase, action_pose
from posebeam.synth.body import ANGLE_PARAMS, NUM_PARAMS, PARAMS

KINDS = ("clips", "sequences", "repetitions")


@dataclass(frozen=True)
class Style:
    """How one person moves (constant over a video).

    Attributes:
        speed: repetitions run ``speed`` times faster than the action's ``period_s``.
        amplitude: deviations from standing are scaled by this.
        mirror: one-sided actions use the other side.
        offsets: ``(P,)`` added to every pose (degrees for angles, fractions for scales).
        tempo_jitter: relative standard deviation of each repetition's duration.
        warp: largest time warp inside a repetition (0 = uniform progress).
    """

    speed: float
    amplitude: float
    mirror: bool
    offsets: np.ndarray
    tempo_jitter: float
    warp: float


def sample_style(rng: np.random.Generator, variation: float = 1.0) -> Style:
    """A random person's style; ``variation`` scales every spread (0 = the textbook action)."""
    angle_sd = np.array([5.0 if name in ANGLE_PARAMS else 0.04 for name in PARAMS])
    angle_sd[PARAMS.index("lift")] = 0.0
    return Style(
        speed=float(np.exp(variation * rng.uniform(-0.3, 0.3))),
        amplitude=float(1.0 + variation * rng.uniform(-0.25, 0.12)),
        mirror=bool(rng.random() < 0.5),
        offsets=variation * angle_sd * rng.standard_normal(NUM_PARAMS),
        tempo_jitter=0.08 * variation,
        warp=0.35 * variation,
    )


@dataclass(frozen=True)
class Segment:
    """One action between ``start_s`` and ``end_s`` (seconds from the video start).

    Attributes:
        repetitions_s: the duration of each repetition, from the segment start on.
        warps: the time-warp strength of each repetition, in [-1, 1].
        phase0: where in its first repetition the segment starts, in [0, 1).
        ramp_s: seconds to blend in from and out to idle standing (0 = none).
    """

    action: str
    start_s: float
    end_s: float
    repetitions_s: tuple[float, ...]
    warps: tuple[float, ...]
    phase0: float = 0.0
    ramp_s: float = 0.0


def _segment(
    action: str,
    start_s: float,
    style: Style,
    rng: np.random.Generator,
    *,
    reps: int | None = None,
    end_s: float | None = None,
    phase0: float = 0.0,
    ramp_s: float = 0.0,
) -> Segment:
    """A segment of ``reps`` whole repetitions, or one that runs until ``end_s``."""
    period = ACTIONS[action].period_s / style.speed
    count = reps if reps is not None else int(np.ceil(((end_s or start_s) - start_s) / period * 1.5)) + 2
    durations = period * np.clip(1 + style.tempo_jitter * rng.standard_normal(count), 0.7, 1.3)
    warps = np.clip(style.warp * rng.uniform(-1, 1, count), -0.9, 0.9)
    if end_s is None:
        end_s = start_s + float(durations.sum()) - phase0 * float(durations[0])
    return Segment(action, start_s, end_s, tuple(durations), tuple(warps), phase0, ramp_s)


def plan(
    kind: str, duration_s: float, actions: list[str], style: Style, rng: np.random.Generator
) -> list[Segment]:
    """A random plan of ``kind`` (see :data:`KINDS`) using only ``actions``."""
    if kind == "clips":
        action = str(rng.choice(actions))
        return [_segment(action, 0.0, style, rng, end_s=duration_s, phase0=float(rng.random()))]
    if kind == "repetitions":
        whole = [a for a in actions if ACTIONS[a].rest_to_rest] or actions
        action = str(rng.choice(whole))
        start = float(rng.uniform(0.4, 1.0))
        period = ACTIONS[action].period_s / style.speed
        reps = max(1, int((duration_s - start - 0.4) / period))
        return [_segment(action, start, style, rng, reps=reps)]
    if kind != "sequences":
        raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    segments: list[Segment] = []
    t, previous = float(rng.uniform(0.3, 1.2)), ""
    while t < duration_s - 1.0:
        action = str(rng.choice([a for a in actions if a != previous] or actions))
        if ACTIONS[action].rest_to_rest:
            segment = _segment(action, t, style, rng, reps=int(rng.integers(1, 4)))
        else:
            length = float(rng.uniform(2.0, 4.5))
            segment = _segment(
                action, t, style, rng, end_s=t + length, phase0=float(rng.random()), ramp_s=0.35
            )
        segments.append(segment)
        t, previous = segment.end_s + float(rng.uniform(0.6, 1.8)), action
    return segments


@dataclass(frozen=True)
class Performance:
    """Per-frame pose and labels of one person.

    Attributes:
        params: ``(T, P)`` pose parameters.
        label: ``(T,)`` action name per frame (``idle`` between actions).
        phase: ``(T,)`` phase name, "" where the pose is not fully in a repetition (idle, blending).
        progress: ``(T,)`` fraction of the current repetition done, NaN where ``phase`` is "".
        segment: ``(T,)`` index of the plan's segment, -1 where idle.
    """

    params: np.ndarray
    label: np.ndarray
    phase: np.ndarray
    progress: np.ndarray
    segment: np.ndarray


def _positions(segment: Segment, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Repetition index and warped position in it (``(T,)`` each) at ``times`` inside ``segment``."""
    durations = np.asarray(segment.repetitions_s)
    bounds = segment.start_s - segment.phase0 * durations[0] + np.concatenate([[0.0], np.cumsum(durations)])
    rep = np.clip(np.searchsorted(bounds, times, side="right") - 1, 0, len(durations) - 1)
    frac = np.clip((times - bounds[rep]) / durations[rep], 0.0, 1.0 - 1e-9)
    warped = frac + np.asarray(segment.warps)[rep] / (2 * np.pi) * np.sin(2 * np.pi * frac)
    return rep, np.clip(warped, 0.0, 1.0 - 1e-9)


def perform(
    segments: list[Segment], num_frames: int, fps: float, style: Style, rng: np.random.Generator
) -> Performance:
    """Per-frame poses and labels of a plan over ``num_frames`` frames at ``fps``."""
    times = np.arange(num_frames) / fps
    idle_period = IDLE.period_s * float(rng.uniform(0.8, 1.3))
    params = action_pose(IDLE.name, times / idle_period + rng.random())
    label = np.full(num_frames, IDLE.name, dtype=object)
    phase = np.full(num_frames, "", dtype=object)
    progress = np.full(num_frames, np.nan)
    segment_index = np.full(num_frames, -1)
    stand = KEY_POSES["stand"].params()
    for i, segment in enumerate(segments):
        frames = np.flatnonzero((times >= segment.start_s) & (times < segment.end_s))
        if not len(frames):
            continue
        t = times[frames]
        _, u = _positions(segment, t)
        action = ACTIONS[segment.action]
        moving = action_pose(action.name, u, mirror=style.mirror and action.one_sided)
        moving = stand + style.amplitude * (moving - stand)
        weight = np.ones(len(frames))
        if segment.ramp_s > 0:
            edge = np.minimum(t - segment.start_s, segment.end_s - t) / segment.ramp_s
            x = np.clip(edge, 0.0, 1.0)
            weight = x * x * (3 - 2 * x)
        params[frames] = (1 - weight[:, None]) * params[frames] + weight[:, None] * moving
        label[frames] = action.name
        segment_index[frames] = i
        full = frames[weight >= 1.0]
        phase[full] = action_phase(action.name, u[weight >= 1.0])
        progress[full] = u[weight >= 1.0]
    return Performance(params + style.offsets, label, phase, progress, segment_index)
