"""Sequences and repetitions of motion-captured people (``--motion mocap``, kinds ``sequences`` and
``repetitions``).

A person's video is a chain of *parts*: a captured motion played from some point at some speed, or
a still ``stand`` (:func:`~posebeam.synth.mocap_scene.standing`). :func:`plan` lays the parts out
over the video's frames; :func:`perform` plays them one after another:

- every part is played a few frames past both of its ends (cyclic captures loop on, non-cyclic ones
  hold their first and last pose);
- each part is turned about the vertical and moved on the ground so that its hips, at its first
  frame, stand where the previous part's hips stand at that frame and face the same way: root
  motion carries on (a walker walks on from where they stood, never jumps across the floor);
- joint positions are cross-faded over :data:`BLEND_S` centred on each boundary (longer where the
  hips change height a lot, to and from crawling or lying), so labels switch mid-fade.

Kinds:

- ``sequences`` (segmentation): ``stand``, then actions drawn from ``config.actions`` (never the
  previous one twice in a row, never ``stand``) separated by ``stand`` gaps of 0.6–1.8 s, during
  which the person may turn, back towards where they started once more than 1 m from it.
  Locomotion (:data:`CONTINUOUS`: walk, run, crawl, dance) is entered anywhere in its cycle and
  lasts 2–4.5 s (a non-cyclic locomotion capture: a stretch of it, or all of it if shorter);
  other cyclic captures (jump, backflip, cartwheel, …: whole motions that the capture loops) play
  whole cycles for about 2–4.5 s; other non-cyclic ones (kick, punch, get_up) play once, whole.
  Every part, gaps included, is a segment of its own. The gaps are labelled ``stand`` whether or
  not ``config.actions`` has it.
- ``repetitions`` (alignment): ``stand`` for 0.4–1.0 s, then N repetitions of one capture of one
  class other than ``stand`` (cyclic ones loop, one cycle a repetition; non-cyclic ones restart
  after a cross-fade), as many as fit before the last 0.4 s and :data:`REPETITION_TRAVEL_M` of
  travel, then ``stand``. Every class but ``stand`` can be repeated whole.

Phases (:func:`capture_phases`) come from the capture itself, per capture frame:

- *gait* (walk, run), from 3D foot contacts: an ankle is in contact where it is within
  :data:`CONTACT_HEIGHT_M` of its lowest height over the capture and moves slower than
  :data:`CONTACT_SPEED_M_S`; both in contact is ``double_support``, only the right foot
  ``left_swing``, only the left ``right_swing``, neither ``flight`` (running);
- *hop* (jump, backflip), from the ankles' and the hips' height: ``flight`` is every run of at least
  :data:`FLIGHT_MIN_S` with both ankles more than :data:`FLIGHT_CLEARANCE_M` above their lowest
  (higher than on tiptoe); the hips are *upright* within :data:`CROUCH_M` of standing height (their
  highest with both feet in contact); ``crouch`` runs from the last upright frame before the dip
  that precedes a take-off to the take-off, ``landing`` from touch-down through the dip that
  follows until upright again (hops with no upright frame between them split at the lowest point);
  the other frames are ``rest``. A capture without a flight falls back to the generic scheme;
- every other class: ``first_half`` and ``second_half`` of the capture (of its cycle if cyclic).

``progress`` is the fraction done of the current repetition: of the cycle for cyclic captures, of
the capture for non-cyclic ones. Frames of ``stand`` and frames inside a cross-fade have no phase
("" and NaN). A mirrored performer swaps ``left_`` and ``right_`` (:func:`mirror_phases`).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from posebeam.synth.mocap import class_sources
from posebeam.synth.mocap_scene import SPEED_RANGE, facing_yaw, retimed, source_motion, standing, yaw_rotation
from posebeam.synth.scene import SceneConfig
from posebeam.synth.timeline import Performance

STAND = "stand"
CONTINUOUS = frozenset({"walk", "run", "crawl", "dance"})
"""Locomotion-like classes: entered anywhere in their cycle and left anywhere."""
GAIT = frozenset({"walk", "run"})
HOP = frozenset({"jump", "backflip"})
BLEND_S = 0.3
"""Cross-fade length at a boundary; it grows to :data:`BLEND_MAX_S` as the hips' height changes
by up to :data:`BLEND_DROP_M`."""
BLEND_MAX_S, BLEND_DROP_M = 0.9, 0.6
CONTACT_HEIGHT_M = 0.05
CONTACT_SPEED_M_S = 1.5
"""A foot is in contact within this height of its lowest and this slow (a swinging foot moves at
2–3 m/s, even where it passes low over the ground)."""
CROUCH_M = 0.03
FLIGHT_MIN_S = 0.1
FLIGHT_CLEARANCE_M = 0.1
"""In a hop's flight both ankles are this far above their lowest (more than on tiptoe)."""
GAP_S = (0.6, 1.8)
ACTION_S = (2.0, 4.5)
ACTION_MIN_S = 1.0
"""A sequence starts no action with less of the video left: the last gap runs to the end."""
FIRST_STAND_S = (0.3, 1.2)
REPETITION_LEAD_S = (0.4, 1.0)
REPETITION_TAIL_S = 0.4
REPETITION_TRAVEL_M = 10.0
"""Repetitions stop before the person has travelled farther (walkers and runners stay in view),
though not before the third."""
HOME_M = 1.0
"""A gap's turn heads back towards the start once the person is farther than this from it."""
TURN_RATE = np.radians(150.0)
"""The fastest a standing person turns, in radians per second."""
MIRRORED_PHASES = {"left_swing": "right_swing", "right_swing": "left_swing"}


@dataclass(frozen=True)
class Part:
    """Frames ``[start, end)`` of the video: capture ``source`` (``""`` for ``stand``) at capture
    position ``position0`` (in capture frames) at ``start``, advancing ``step`` capture frames a
    video frame; ``turn``: a ``stand`` gap in which the person may turn (:func:`_gap_turn`)."""

    label: str
    source: str
    start: int
    end: int
    segment: int
    position0: float = 0.0
    step: float = 0.0
    turn: bool = False


def _period(source: str) -> int:
    """Capture frames of one repetition: a cycle (the last frame repeats the first) or the capture."""
    return source_motion(source).num_frames - 1


def _travel(source: str) -> float:
    """How far (metres) the hips move over the ground in one repetition of ``source``."""
    hips = source_motion(source).joints[[0, -1], 11:13].mean(axis=1)
    return float(np.hypot(*(hips[1] - hips[0])[[0, 2]]))


def _capture_part(
    label: str, start: int, segment: int, config: SceneConfig, rng: np.random.Generator, whole: bool
) -> tuple[Part, int]:
    """A part of class ``label`` from ``start`` and its length in frames (``whole``: it starts at the
    capture's beginning and plays whole cycles or the whole capture)."""
    sources = class_sources(label, config.split)
    source = sources[int(rng.integers(len(sources)))]
    motion = source_motion(source)
    step = float(rng.uniform(*SPEED_RANGE)) * motion.fps / config.fps
    period, wanted = _period(source), float(rng.uniform(*ACTION_S)) * config.fps
    once = max(1, round(period / step))  # frames of the whole capture (of one cycle)
    if motion.loop and not whole:
        length, position0 = round(wanted), float(rng.uniform(0, period))
    elif motion.loop:
        length, position0 = max(1, round(wanted / once)) * once, 0.0
    elif not whole and wanted < once:  # a stretch of a long non-cyclic capture
        length = round(wanted)
        position0 = float(rng.uniform(0, max(period - length * step, 0.0)))
    else:
        length, position0 = once, 0.0
    return Part(label, source, start, start + length, segment, position0, step), length


def plan(config: SceneConfig, rng: np.random.Generator) -> list[Part]:
    """The parts of one person's video (``config.kind`` ``sequences`` or ``repetitions``)."""
    total, fps = config.num_frames, config.fps
    actions = [a for a in config.actions if a != STAND]
    if config.kind == "repetitions":
        lead = min(total, round(float(rng.uniform(*REPETITION_LEAD_S)) * fps))
        parts = [Part(STAND, "", 0, lead, 0)]
        if not actions or lead >= total:
            return [Part(STAND, "", 0, total, 0)]
        part, length = _capture_part(str(rng.choice(actions)), lead, 1, config, rng, whole=True)
        length = round(_period(part.source) / part.step)  # one repetition
        count = max(1, int((total - lead - REPETITION_TAIL_S * fps) // length))
        count = min(count, max(3, int(REPETITION_TRAVEL_M / max(_travel(part.source), 1e-6))))
        if source_motion(part.source).loop:  # cyclic: one part looping on
            parts.append(dataclasses.replace(part, end=min(total, lead + count * length)))
        else:  # non-cyclic: played again from the start after a cross-fade
            starts = [lead + k * length for k in range(count) if lead + k * length < total]
            parts += [dataclasses.replace(part, start=s, end=min(total, s + length)) for s in starts]
        if parts[-1].end < total:
            parts.append(Part(STAND, "", parts[-1].end, total, 2))
        return parts
    if config.kind != "sequences":
        raise ValueError(f"mocap timelines make sequences and repetitions, not {config.kind}")
    t = min(total, round(float(rng.uniform(*FIRST_STAND_S)) * fps))
    parts, previous, gap_min = [Part(STAND, "", 0, t, 0)], "", round(GAP_S[0] * fps)
    while t < total and actions:
        label = str(rng.choice([a for a in actions if a != previous] or actions))
        part, length = _capture_part(label, t, len(parts), config, rng, whole=label not in CONTINUOUS)
        if total - (t + length) < gap_min:  # no room for a gap after it: it runs to the end
            parts.append(dataclasses.replace(part, end=total))
            return parts
        parts.append(part)
        t, previous = t + length, label
        gap = round(float(rng.uniform(*GAP_S)) * fps)
        if total - (t + gap) < round(ACTION_MIN_S * fps):  # no room for another action
            gap = total - t
        parts.append(Part(STAND, "", t, t + gap, len(parts), turn=True))
        t += gap
    if parts[-1].end < total:  # only stand to do
        parts[-1] = dataclasses.replace(parts[-1], end=total)
    return parts


def foot_contacts(joints: np.ndarray, fps: float) -> np.ndarray:
    """``(T, 2)`` whether the left and right ankle are on the ground in ``joints (T, 17, 3)``, a
    played-out motion: within :data:`CONTACT_HEIGHT_M` of the ankle's lowest height and slower than
    :data:`CONTACT_SPEED_M_S` into or out of the frame (the slower of the two, so that a one-frame
    glitch of the capture does not break a contact)."""
    ankles = joints[:, 15:17]
    step = np.linalg.norm(np.diff(ankles, axis=0), axis=-1) * fps
    speed = np.minimum(np.r_[step[:1], step], np.r_[step, step[-1:]])
    low = ankles[..., 1] - ankles[..., 1].min(axis=0) < CONTACT_HEIGHT_M
    return low & (speed < CONTACT_SPEED_M_S)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` of the runs of True in ``mask``."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _hop_phases(
    contact: np.ndarray, clearance: np.ndarray, hips: np.ndarray, fps: float
) -> np.ndarray | None:
    """Hop phases of one repetition (see the module docstring) from the feet's ``contact (T, 2)``,
    the ankles' height above their lowest ``clearance (T, 2)`` and the ``hips`` height; None
    without a flight."""
    both = contact.all(axis=1)
    upright = hips >= (float(hips[both].max()) if both.any() else float(hips.max())) - CROUCH_M
    shortest = max(2, round(FLIGHT_MIN_S * fps))
    up_in_the_air: np.ndarray = np.all(clearance > FLIGHT_CLEARANCE_M, axis=1)
    flights = [(a, b) for a, b in _runs(up_in_the_air) if b - a >= shortest]
    if not flights:
        return None
    phases = np.full(len(hips), "rest", dtype=object)
    horizon = max(1, round(fps))  # a dip belongs to a flight less than a second away
    for k in range(len(flights) + 1):  # the ground time between a touch-down and a take-off
        landed, takes_off = k > 0, k < len(flights)
        lo, hi = flights[k - 1][1] if landed else 0, flights[k][0] if takes_off else len(hips)
        gap, up = hips[lo:hi], upright[lo:hi]
        if not len(gap):
            continue
        if not up.any():  # straight from one hop into the next: split at the lowest point
            split = int(np.argmin(gap)) if landed and takes_off else (len(gap) if landed else 0)
            phases[lo : lo + split], phases[lo + split : hi] = "landing", "crouch"
            continue
        if landed:  # landing: from touch-down through the dip until upright again
            bottom = int(np.argmin(gap[:horizon]))
            after = np.flatnonzero(up[bottom:])
            if not up[bottom]:
                phases[lo : lo + bottom + (int(after[0]) if len(after) else len(gap))] = "landing"
        if takes_off:  # crouch: from the last upright frame before the dip until take-off
            bottom = max(0, len(gap) - horizon) + int(np.argmin(gap[-horizon:]))
            before = np.flatnonzero(up[:bottom])
            if not up[bottom]:
                phases[lo + (int(before[-1]) + 1 if len(before) else 0) : hi] = "crouch"
    for off, on in flights:
        phases[off:on] = "flight"
    return phases


@functools.cache
def capture_phases(source: str, label: str) -> np.ndarray:
    """Phase names of the frames of one repetition of ``source`` (``(period,)`` for a cyclic
    capture, ``(period + 1,)`` otherwise), by the scheme of class ``label``."""
    motion = source_motion(source)
    period = _period(source)
    frames = period if motion.loop else period + 1
    # Speeds across a cycle's seam: play it from the middle of one cycle to that of the next.
    offset = period // 2 if motion.loop else 0
    played = retimed(motion, frames, motion.fps, 1.0, offset / period) if motion.loop else motion.joints
    contact = np.roll(foot_contacts(played, motion.fps), offset, axis=0)
    clearance = np.roll(played[:, 15:17, 1] - played[:, 15:17, 1].min(axis=0), offset, axis=0)
    hips = np.roll(played[:, 11:13, 1].mean(axis=1), offset)
    if label in GAIT:
        names = np.array(["flight", "right_swing", "left_swing", "double_support"], dtype=object)
        phases: np.ndarray = names[contact[:, 0] * 1 + contact[:, 1] * 2]
    elif label in HOP and (hop := _hop_phases(contact, clearance, hips, motion.fps)) is not None:
        phases = hop
    else:
        phases = np.where(np.arange(frames) < period / 2, "first_half", "second_half").astype(object)
    phases.flags.writeable = False
    return phases


def _part_joints(part: Part, pad: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """``(end - start + 2 pad, 17, 3)``: the part played from ``pad`` frames before its start to
    ``pad`` after its end (a non-cyclic capture holds its first and last pose)."""
    count = part.end - part.start + 2 * pad
    if part.label == STAND:
        return standing(count, fps, rng)
    motion, period = source_motion(part.source), _period(part.source)
    position = part.position0 + (np.arange(count) - pad) * part.step
    if motion.loop:  # before the capture's start: the end of the previous cycle
        start = float(position[0] % period) / period  # where in its cycle (the root is placed later)
        return retimed(motion, count, fps, part.step * fps / motion.fps, start)
    position = np.clip(position, 0, period)
    low = np.minimum(np.floor(position).astype(int), period - 1)
    weight = (position - low)[:, None, None]
    joints: np.ndarray = (1 - weight) * motion.joints[low] + weight * motion.joints[low + 1]
    return joints


def _placed(joints: np.ndarray, at: int, target: np.ndarray | None) -> np.ndarray:
    """``joints`` turned and moved on the ground so that frame ``at`` has the hips and heading of
    ``target (17, 3)`` (None: hips over the origin, facing +x)."""
    hips = joints[at, 11:13].mean(axis=0) * [1, 0, 1]
    goal = np.zeros(3) if target is None else target[11:13].mean(axis=0) * [1, 0, 1]
    heading = 0.0 if target is None else facing_yaw(target)
    return (joints - hips) @ yaw_rotation(heading - facing_yaw(joints[at])).T + goal


def _turned(joints: np.ndarray, pad: int, angle: float) -> np.ndarray:
    """A standing person turning by ``angle`` about their hips over the part (smoothly)."""
    count = len(joints) - 2 * pad
    x = np.clip((np.arange(len(joints)) - pad) / max(count, 1), 0.0, 1.0)
    yaws = np.array([yaw_rotation(a) for a in angle * x * x * (3 - 2 * x)])
    hips = joints[:, 11:13].mean(axis=1, keepdims=True) * [1, 0, 1]
    return np.einsum("tij,tkj->tki", yaws, joints - hips) + hips


def _gap_turn(at: np.ndarray, seconds: float, rng: np.random.Generator) -> float:
    """How far a person standing ``at (17, 3)`` turns in a gap: towards where they started (the
    origin) once farther than :data:`HOME_M`, else anywhere; at most :data:`TURN_RATE`."""
    hips = at[11:13].mean(axis=0)
    if np.hypot(hips[0], hips[2]) > HOME_M:
        home = float(np.arctan2(hips[2], -hips[0]))  # the heading that faces the origin
        wanted = home - facing_yaw(at) + float(rng.normal(0, np.radians(30)))
    else:
        wanted = float(rng.uniform(-np.pi / 2, np.pi / 2))
    wanted = (wanted + np.pi) % (2 * np.pi) - np.pi
    return float(np.clip(wanted, -TURN_RATE * seconds, TURN_RATE * seconds))


def perform(
    parts: list[Part], num_frames: int, fps: float, rng: np.random.Generator
) -> tuple[np.ndarray, Performance]:
    """``(T, 17, 3)`` joints (metres, y up, mean hip position over the origin) and labels of a plan."""
    pad = int(np.ceil(BLEND_MAX_S * fps / 2)) + 1
    played: list[np.ndarray] = []
    for i, part in enumerate(parts):
        joints = _part_joints(part, pad, fps, rng)
        target = None if i == 0 else played[-1][part.start - parts[i - 1].start + pad]
        joints = _placed(joints, pad, target)
        if part.turn:
            angle = _gap_turn(joints[pad], (part.end - part.start) / fps, rng)
            joints = _turned(joints, pad, angle)
        played.append(joints)
    out = np.zeros((num_frames, 17, 3))
    label = np.full(num_frames, STAND, dtype=object)
    phase = np.full(num_frames, "", dtype=object)
    progress = np.full(num_frames, np.nan)
    segment = np.zeros(num_frames, dtype=np.int64)
    for part, joints in zip(parts, played, strict=True):
        frames = np.arange(part.start, part.end)
        out[frames] = joints[pad : pad + len(frames)]
        label[frames], segment[frames] = part.label, part.segment
        if part.label != STAND:
            period = _period(part.source)
            position = part.position0 + np.arange(len(frames)) * part.step
            if source_motion(part.source).loop:
                done = np.mod(position, period) / period
                index = np.round(position).astype(int) % period
            else:  # past the capture's end (a last part held to the video's end): no phase
                done = np.where(position <= period, np.minimum(position / period, 1.0 - 1e-9), np.nan)
                index = np.clip(np.round(position).astype(int), 0, period)
            names = capture_phases(part.source, part.label)[index]
            phase[frames], progress[frames] = np.where(np.isnan(done), "", names), done
    for i in range(1, len(parts)):  # cross-fades, centred on each boundary
        before, after, cut = parts[i - 1], parts[i], parts[i].start
        a = played[i - 1][cut - before.start + pad]
        b = played[i][pad]
        drop = abs(a[11:13, 1].mean() - b[11:13, 1].mean())
        blend_s = BLEND_S + (BLEND_MAX_S - BLEND_S) * min(1.0, drop / BLEND_DROP_M)
        half = min(round(blend_s * fps / 2), (before.end - before.start) // 3, (after.end - after.start) // 3)
        if half <= 0:
            continue
        frames = np.arange(cut - half, cut + half)
        x = (frames - (cut - half) + 0.5) / (2 * half)
        weight = (x * x * (3 - 2 * x))[:, None, None]
        old = played[i - 1][frames - before.start + pad]
        new = played[i][frames - after.start + pad]
        out[frames] = (1 - weight) * old + weight * new
        phase[frames], progress[frames] = "", np.nan
    out -= out[:, 11:13].mean(axis=(0, 1)) * [1, 0, 1]
    return out, Performance(np.zeros((num_frames, 0)), label, phase, progress, segment)


def mirror_phases(performance: Performance) -> Performance:
    """The labels of the mirrored performer: left and right phases swapped."""
    phase = np.array([MIRRORED_PHASES.get(p, p) for p in performance.phase], dtype=object)
    return dataclasses.replace(performance, phase=phase)


def perform_mocap(config: SceneConfig, rng: np.random.Generator) -> tuple[np.ndarray, Performance]:
    """One person of a ``sequences`` or ``repetitions`` video: joints and labels."""
    return perform(plan(config, rng), config.num_frames, config.fps, rng)
