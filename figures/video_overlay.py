"""Skeletons, boxes, person ids and labels drawn on video frames (OpenCV), for ``posebeam render``
and the report's thumbnails. Each person keeps one colour (from its ``person_id``) across frames."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from posebeam.schemas.layouts import COCO17

MIN_JOINT_CONFIDENCE = 0.3
"""Joints and limbs below this confidence are not drawn (MoveNet's usual threshold)."""

PALETTE = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
    (170, 110, 40), (255, 250, 200), (128, 0, 0), (170, 255, 195), (128, 128, 0), (255, 215, 180),
)  # fmt: skip
"""Distinct RGB colours (Sasha Trubetskoy's list), one per person id modulo its length."""


@dataclass(frozen=True)
class PersonOverlay:
    """What is drawn for one person on one frame."""

    person_id: int
    bbox: np.ndarray  # (4,) x1 y1 x2 y2 pixels
    keypoints: np.ndarray  # (17, 3) x, y pixels and confidence
    captions: tuple[str, ...] = ()  # e.g. the current frame label and clip prediction


def person_colour(person_id: int) -> tuple[int, int, int]:
    return PALETTE[person_id % len(PALETTE)]


def _text(
    image: np.ndarray, text: str, origin: tuple[int, int], colour: tuple[int, int, int], scale: float
) -> int:
    """Draw ``text`` on a dark band at ``origin`` (its bottom-left); returns the band's height."""
    font, thickness = cv2.FONT_HERSHEY_SIMPLEX, max(1, round(scale * 1.5))
    (width, height), baseline = cv2.getTextSize(text, font, scale, thickness)
    x, y = origin
    x = max(0, min(x, image.shape[1] - width - 3))  # a caption near the right edge stays readable
    y = max(y, height + baseline)
    cv2.rectangle(image, (x, y - height - baseline), (x + width + 2, y + 1), (0, 0, 0), cv2.FILLED)
    cv2.putText(image, text, (x + 1, y - baseline + 1), font, scale, colour, thickness, cv2.LINE_AA)
    return height + baseline + 1


def draw_persons(rgb: np.ndarray, persons: Sequence[PersonOverlay]) -> np.ndarray:
    """A copy of ``rgb`` ``(H, W, 3)`` uint8 with every person's box, limbs, joints, id and captions."""
    image = np.ascontiguousarray(rgb).copy()
    height = image.shape[0]
    scale = max(0.35, height / 900)
    line = max(2, round(height / 300))
    for person in persons:
        colour = person_colour(person.person_id)
        x1, y1, x2, y2 = (round(float(v)) for v in person.bbox)
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, line)
        points = np.asarray(person.keypoints, dtype=np.float64).reshape(-1, 3)
        seen = points[:, 2] >= MIN_JOINT_CONFIDENCE
        xy = np.round(points[:, :2]).astype(np.int32)
        for a, b in COCO17.limbs:
            if seen[a] and seen[b]:
                cv2.line(image, tuple(map(int, xy[a])), tuple(map(int, xy[b])), colour, line + 1, cv2.LINE_AA)
        for x, y in xy[seen]:
            cv2.circle(image, (int(x), int(y)), line + 1, (255, 255, 255), cv2.FILLED, cv2.LINE_AA)
        top = y1 - 2
        for text in reversed((f"#{person.person_id}", *person.captions)):
            top -= _text(image, text, (x1, top), colour, scale)
    return image


def save_image(path: Path, rgb: np.ndarray, max_width: int) -> Path:
    """Write ``rgb`` as a JPEG or PNG (from ``path``'s suffix), shrunk to at most ``max_width`` wide."""
    height, width = rgb.shape[:2]
    if width > max_width:
        rgb = cv2.resize(rgb, (max_width, round(height * max_width / width)), interpolation=cv2.INTER_AREA)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")
    return path
