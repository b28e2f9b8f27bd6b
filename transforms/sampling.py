"""Frame selection from timestamps: sub-sampling a stream to a target frame rate."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class FpsSampler:
    """Keeps the first frame of each ``1 / fps`` second bucket; keeps all when ``fps`` is None.

    Decisions use presentation timestamps, so variable-frame-rate streams sample evenly in time.
    """

    fps: float | None = None
    _last_bucket: int | None = None

    def keep(self, timestamp_s: float) -> bool:
        if self.fps is None:
            return True
        bucket = math.floor(timestamp_s * self.fps + 1e-6)
        if self._last_bucket is not None and bucket <= self._last_bucket:
            return False
        self._last_bucket = bucket
        return True
