"""Progress of a local run, shown while it runs.

Workers append one JSON line per event to a file of their own in a folder the launcher made
(``ExtractConfig.progress_dir``; local runners only, so the folder is on the same machine): ``{"inputs":
1, "failed": 0|1}`` when an input is accounted for (its ``videos`` or ``failures`` row is decided),
``{"frames": N}`` when a window's frames are estimated. :class:`ProgressBar` (launcher) reads the
new lines twice a second and shows a tqdm bar on stderr: inputs done of the total, failures,
frames per second and the time left. tqdm stays quiet when stderr is not a terminal.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

POLL_S = 0.5


class ProgressLog:
    """A worker's append-only event file in ``folder`` (one per process, so no two writers share one)."""

    def __init__(self, folder: str) -> None:
        self._folder = folder
        self._path: Path | None = None

    def record(self, **event: int) -> None:
        if self._path is None:
            self._path = Path(self._folder) / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        try:
            with self._path.open("a") as handle:
                handle.write(json.dumps(event) + "\n")
        except OSError:  # the launcher has gone (or removed the folder): progress is best effort
            pass


def record_event(folder: str | None, **event: int) -> None:
    """Append ``event`` to this process's file in ``folder`` (nothing when ``folder`` is None)."""
    if folder is not None:
        _logs.setdefault(folder, ProgressLog(folder)).record(**event)


_logs: dict[str, ProgressLog] = {}


class ProgressTotals:
    """The sums of every worker's events so far, read incrementally."""

    def __init__(self, folder: str) -> None:
        self._folder = Path(folder)
        self._offsets: dict[Path, int] = {}
        self.inputs = self.failed = self.frames = 0

    def update(self) -> None:
        for path in sorted(self._folder.glob("*.jsonl")):
            with path.open("rb") as handle:
                handle.seek(self._offsets.get(path, 0))
                data = handle.read()
            complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits
            self._offsets[path] = self._offsets.get(path, 0) + len(complete)
            for line in complete.splitlines():
                event: dict[str, Any] = json.loads(line)
                self.inputs += event.get("inputs", 0)
                self.failed += event.get("failed", 0)
                self.frames += event.get("frames", 0)


class ProgressBar:
    """``with ProgressBar(folder, total):`` shows the run's progress until the block ends."""

    def __init__(self, folder: str, total: int | None) -> None:
        self._totals = ProgressTotals(folder)
        self._total = total
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="posebeam-progress", daemon=True)

    def __enter__(self) -> ProgressBar:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        from tqdm import tqdm

        start = time.monotonic()
        with tqdm(total=self._total, unit="video", desc="posebeam", disable=None, dynamic_ncols=True) as bar:
            while True:
                stopping = self._stop.wait(POLL_S)
                self._totals.update()
                elapsed = max(time.monotonic() - start, 1e-6)
                bar.set_postfix_str(
                    f"{self._totals.failed} failed, {self._totals.frames / elapsed:.1f} frames/s",
                    refresh=False,
                )
                bar.update(self._totals.inputs - bar.n)
                if stopping:
                    return
