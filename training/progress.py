"""Progress lines of long training loops, one every few steps: ``[label ]epoch e/E step s/S loss L
eta M min``, the estimate from the mean time per step so far."""

from __future__ import annotations

import time


class Progress:
    """Counts steps over ``epochs`` epochs of ``total`` steps in all and prints a line every
    ``every`` steps and at the last; time runs from ``started`` (``time.monotonic()``, default now)."""

    def __init__(
        self, total: int, epochs: int, *, label: str = "", started: float | None = None, every: int = 10
    ) -> None:
        self.total, self.epochs, self.every = total, epochs, every
        self.prefix = f"{label} " if label else ""
        self.started = time.monotonic() if started is None else started
        self.steps = 0

    def step(self, epoch: int, loss: float) -> None:
        """One step of ``epoch`` (0-based) done with this ``loss``."""
        self.steps += 1
        if self.steps % self.every == 0 or self.steps == self.total:
            elapsed = time.monotonic() - self.started
            eta_min = elapsed / self.steps * (self.total - self.steps) / 60
            progress = f"{self.prefix}epoch {epoch + 1}/{self.epochs} step {self.steps}/{self.total}"
            print(f"{progress} loss {loss:.3f} eta {eta_min:.1f} min", flush=True)
