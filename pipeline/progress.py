"""Progress of a local run, shown while it runs.

Workers append one JSON line per event to a file of their own in a folder the launcher made
(``ExtractConfig.progress_dir``; local runners only, so the folder is on the same machine):
``{"inputs": 1, "failed": 1}`` for an input that fails before decoding (unreadable, no match), and
per window estimated ``{"video", "window", "windows", "uris", "failed", "frames"}``: a video's
inputs (its identical copies) advance by one ``windows``-th per window, as soon as the window is
done rather than when the video is stitched (a batch runner stitches at the very end). A video
counts as failed once, whichever of its windows fail. :class:`ProgressBar` (launcher) reads the new
lines twice a second and shows a tqdm bar on stderr: inputs done of the total, failures, frames
per second and the time left. tqdm stays quiet when stderr is not a terminal.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

POLL_S = 0.5
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:.4g}/{total_fmt} [{elapsed}<{remaining}{postfix}]"
"""tqdm's default with the count as 2.75 rather than 2.75000 (windows advance a video in parts)."""


class ProgressLog:
    """A worker's append-only event file in ``folder`` (one per process, so no two writers share one)."""

    def __init__(self, folder: str) -> None:
        self._folder = folder
        self._path: Path | None = None

    def record(self, **event: int | str) -> None:
        if self._path is None:
            self._path = Path(self._folder) / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        try:
            with self._path.open("a") as handle:
                handle.write(json.dumps(event) + "\n")
        except OSError:  # the launcher has gone (or removed the folder): progress is best effort
            pass


def record_event(folder: str | None, **event: int | str) -> None:
    """Append ``event`` to this process's file in ``folder`` (nothing when ``folder`` is None)."""
    if folder is not None:
        _logs.setdefault(folder, ProgressLog(folder)).record(**event)


_logs: dict[str, ProgressLog] = {}


class ProgressTotals:
    """The sums of every worker's events so far, read incrementally."""

    def __init__(self, folder: str) -> None:
        self._folder = Path(folder)
        self._offsets: dict[Path, int] = {}
        self._windows: set[tuple[str, int]] = set()  # (video, window) already counted
        self._failed_videos: set[str] = set()
        self.inputs = 0.0
        self.failed = self.frames = 0

    def update(self) -> None:
        for path in sorted(self._folder.glob("*.jsonl")):
            with path.open("rb") as handle:
                handle.seek(self._offsets.get(path, 0))
                data = handle.read()
            complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits
            self._offsets[path] = self._offsets.get(path, 0) + len(complete)
            for line in complete.splitlines():
                self._add(json.loads(line))

    def _add(self, event: dict[str, Any]) -> None:
        self.frames += event.get("frames", 0)
        if "video" not in event:
            self.inputs += event.get("inputs", 0)
            self.failed += event.get("failed", 0)
            return
        video, uris = event["video"], event["uris"]
        if (video, event["window"]) not in self._windows:  # a retried bundle reports a window again
            self._windows.add((video, event["window"]))
            self.inputs += uris / event["windows"]
        if event["failed"] and video not in self._failed_videos:
            self._failed_videos.add(video)
            self.failed += uris


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
        sized = shutil.get_terminal_size((0, 0)).columns > 0  # some pseudo-terminals report 0 columns
        with tqdm(
            total=self._total, unit="video", desc="posebeam", disable=None, dynamic_ncols=sized,
            ncols=None if sized else 100, nrows=None if sized else 24,
            bar_format=BAR_FORMAT if self._total else None,
        ) as bar:  # fmt: skip
            while True:
                stopping = self._stop.wait(POLL_S)
                self._totals.update()
                elapsed = max(time.monotonic() - start, 1e-6)
                bar.set_postfix_str(
                    f"{self._totals.failed} failed, {self._totals.frames / elapsed:.1f} frames/s",
                    refresh=False,
                )
                bar.update(round(self._totals.inputs, 2) - bar.n)
                if stopping:
                    return
