"""Held-out splits by group: every item of one group (a video, a source motion) on one side."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def split_by_group(groups: Sequence[str], test_fraction: float, seed: int) -> np.ndarray:
    """``(N,)`` bool, True for test items: a random ``test_fraction`` of the distinct groups."""
    names = np.unique(np.asarray(groups, dtype=str))
    rng = np.random.default_rng(seed)
    test = rng.choice(names, max(1, round(len(names) * test_fraction)), replace=False)
    return np.isin(np.asarray(groups, dtype=str), test)
