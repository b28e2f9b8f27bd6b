"""Skeleton layouts as data: joint names, flip pairs, limbs and index maps to COCO-17.

Heatmap channels, flips and every pose backend read their layout from here (docs/method.md §1).
Image coordinates: x to the right, y down, in pixels of the decoded frame.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """A skeleton layout.

    Attributes:
        name: short identifier stored in tables and model cards.
        joints: joint names, in channel order.
        flip_pairs: (left, right) joint index pairs swapped by a horizontal flip.
        limbs: (a, b) joint index pairs drawn as limb heatmaps.
        to_coco17: for layouts that map to COCO-17, the source index of each COCO joint.
    """

    name: str
    joints: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    limbs: tuple[tuple[int, int], ...] = ()
    to_coco17: tuple[int, ...] | None = None

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def flip_index(self) -> list[int]:
        """Index permutation that swaps left and right joints (identity elsewhere)."""
        perm = list(range(self.num_joints))
        for left, right in self.flip_pairs:
            perm[left], perm[right] = right, left
        return perm


COCO17 = Layout(
    name="coco17",
    joints=(
        "nose",
        "left_eye",
        "right_eye",
        "left_ear",
        "right_ear",
        "left_shoulder",
        "right_shoulder",
        "left_elbow",
        "right_elbow",
        "left_wrist",
        "right_wrist",
        "left_hip",
        "right_hip",
        "left_knee",
        "right_knee",
        "left_ankle",
        "right_ankle",
    ),
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    # PYSKL's default COCO skeleton (docs/method.md §2).
    limbs=(
        (0, 1),
        (0, 2),
        (1, 3),
        (2, 4),
        (0, 5),
        (5, 7),
        (7, 9),
        (0, 6),
        (6, 8),
        (8, 10),
        (5, 11),
        (11, 13),
        (13, 15),
        (6, 12),
        (12, 14),
        (14, 16),
        (11, 12),
    ),
)

BLAZEPOSE33 = Layout(
    name="blazepose33",
    joints=tuple(f"landmark_{i}" for i in range(33)),
    to_coco17=(0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28),
)

BODY25 = Layout(
    name="body25",
    joints=(
        "nose",
        "neck",
        "right_shoulder",
        "right_elbow",
        "right_wrist",
        "left_shoulder",
        "left_elbow",
        "left_wrist",
        "mid_hip",
        "right_hip",
        "right_knee",
        "right_ankle",
        "left_hip",
        "left_knee",
        "left_ankle",
        "right_eye",
        "left_eye",
        "right_ear",
        "left_ear",
        "left_big_toe",
        "left_small_toe",
        "left_heel",
        "right_big_toe",
        "right_small_toe",
        "right_heel",
    ),
    to_coco17=(0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11),
)

LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (COCO17, BLAZEPOSE33, BODY25)}


def get_layout(name: str) -> Layout:
    """Return the layout called ``name`` or raise ``KeyError`` listing the known ones."""
    try:
        return LAYOUTS[name]
    except KeyError:
        raise KeyError(f"unknown layout {name!r}; known: {', '.join(sorted(LAYOUTS))}") from None
