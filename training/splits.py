"""Held-out splits by group: every item of one group (a video, a source motion) on one side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

import numpy as np


def split_by_group(groups: Sequence[str], test_fraction: float, seed: int) -> np.ndarray:
    """``(N,)`` bool, True for test items: a random ``test_fraction`` of the distinct groups."""
    names = np.unique(np.asarray(groups, dtype=str))
    rng = np.random.default_rng(seed)
    test = rng.choice(names, max(1, round(len(names) * test_fraction)), replace=False)
    return np.isin(np.asarray(groups, dtype=str), test)


class _OfVideo(Protocol):
    @property
    def video_id(self) -> str: ...


ItemT = TypeVar("ItemT", bound=_OfVideo)


def split_by_video(items: Sequence[ItemT], fraction: float, seed: int) -> tuple[list[ItemT], list[ItemT]]:
    """The items (clips, tracks) of a random ``fraction`` of the videos apart from the others:
    ``(others, apart)``, each in the given order."""
    apart = split_by_group([item.video_id for item in items], fraction, seed)
    return [i for i, a in zip(items, apart, strict=True) if not a], [
        i for i, a in zip(items, apart, strict=True) if a
    ]
