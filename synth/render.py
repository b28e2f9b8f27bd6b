"""RGB frames of a synthetic video: filled stick figures on a textured background.

The figures are drawn at the *true* joint positions (the keypoints table holds the noisy detections of
the same people), so an RGB branch sees what a camera would. Frames are ``(H, W, 3)`` uint8 RGB.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from posebeam.synth.scene import SynthPerson, SynthVideo

SKIN = np.array([[224, 172, 138], [198, 134, 99], [141, 85, 54], [240, 200, 170], [110, 70, 45]])
LEGS = ((11, 13), (13, 15), (12, 14), (14, 16))
ARMS = ((5, 7), (7, 9), (6, 8), (8, 10))


def background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A wall with a soft blotchy texture over a floor of another colour, ``(H, W, 3)`` uint8."""
    wall, floor = rng.integers(60, 200, 3), rng.integers(40, 160, 3)
    horizon = int(height * rng.uniform(0.55, 0.75))
    image = np.empty((height, width, 3), dtype=np.float64)
    image[:horizon], image[horizon:] = wall, floor
    blotches = cv2.resize(rng.normal(0, 18, (6, 8, 3)), (width, height), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 6, (height, width, 3))
    shade = np.linspace(1.1, 0.85, height)[:, None, None]
    return np.clip((image + blotches + grain) * shade, 0, 255).astype(np.uint8)


def _pt(xy: np.ndarray) -> tuple[int, int]:
    return round(float(xy[0]) * 4), round(float(xy[1]) * 4)  # 2 bits of sub-pixel precision


def draw_person(image: np.ndarray, joints: np.ndarray, height_px: float, colours: np.ndarray) -> None:
    """Draw one person in place: ``joints`` ``(17, 2)`` pixels, ``colours`` ``(3, 3)`` RGB of skin,
    shirt and trousers."""
    skin, shirt, trousers = (tuple(int(c) for c in colour) for colour in colours)
    limb = max(2, round(0.045 * height_px))

    def line(a: np.ndarray, b: np.ndarray, colour: tuple[int, ...], width: int) -> None:
        cv2.line(image, _pt(a), _pt(b), colour, width, cv2.LINE_AA, shift=2)

    for a, b in LEGS:
        line(joints[a], joints[b], trousers, limb + 1)
    torso = np.array([joints[5], joints[6], joints[12], joints[11]]) * 4
    cv2.fillConvexPoly(image, np.round(torso).astype(np.int32), shirt, cv2.LINE_AA, shift=2)
    line((joints[5] + joints[6]) / 2, (joints[11] + joints[12]) / 2, shirt, limb + 2)
    for a, b in ARMS:
        line(joints[a], joints[b], shirt if b in (7, 8) else skin, limb)
    head = (joints[0] + joints[3] + joints[4]) / 3
    cv2.circle(image, _pt(head), round(0.065 * height_px * 4), skin, -1, cv2.LINE_AA, shift=2)


def render_frames(video: SynthVideo) -> Iterator[np.ndarray]:
    """Yield the video's frames in order; the same ``video`` always gives the same pixels."""
    cfg = video.config
    rng = np.random.default_rng([video.seed, video.index, 1])
    base = background(cfg.width, cfg.height, rng)
    colours = [
        np.stack([SKIN[rng.integers(len(SKIN))], rng.integers(20, 256, 3), rng.integers(10, 160, 3)])
        for _ in video.persons
    ]
    # Farther (smaller) people first, so nearer ones cover them.
    order = sorted(range(len(video.persons)), key=lambda m: float(np.mean(video.persons[m].height_px)))
    for frame in range(video.num_frames):
        image = base.copy()
        for m in order:
            person: SynthPerson = video.persons[m]
            draw_person(image, person.truth[frame], float(person.height_px[frame]), colours[m])
        yield image
