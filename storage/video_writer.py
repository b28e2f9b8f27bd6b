"""Writing RGB frames to a video file with PyAV, each at its own presentation time (variable frame
rate is kept: a frame shown at 1.37 s in the source is shown at 1.37 s in the output).

H.264 (``libx264``, yuv420p: plays in browsers) when PyAV's FFmpeg has it, MPEG-4 Part 2 otherwise.
Odd frame sizes are padded by one pixel on the right or bottom (yuv420p needs even sizes).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
from av.video.stream import VideoStream

TIME_BASE = Fraction(1, 90_000)
"""Presentation times are kept to 1/90,000 s (MPEG's clock)."""


def preferred_codec() -> str:
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


class VideoWriter:
    """``with VideoWriter(path, width, height, rate) as out: out.write(rgb, timestamp_s)``."""

    def __init__(self, path: Path, width: int, height: int, rate: float | None) -> None:
        self._container = av.open(str(path), mode="w")
        self.codec = preferred_codec()
        guessed = Fraction(rate or 25.0).limit_denominator(1001)
        self._stream = cast(VideoStream, self._container.add_stream(self.codec, rate=guessed))
        self._width, self._height = width + width % 2, height + height % 2
        self._stream.width, self._stream.height = self._width, self._height
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.time_base = TIME_BASE
        self._stream.time_base = TIME_BASE
        if self.codec == "libx264":
            self._stream.options = {"crf": "23", "preset": "veryfast"}
        self._last_pts = -1
        self.frames = 0

    def write(self, rgb: np.ndarray, timestamp_s: float) -> None:
        """Add one ``(H, W, 3)`` uint8 frame shown at ``timestamp_s`` (times must increase; a repeat
        is moved one clock tick later)."""
        pad_y, pad_x = self._height - rgb.shape[0], self._width - rgb.shape[1]
        if pad_x or pad_y:
            rgb = np.pad(rgb, ((0, pad_y), (0, pad_x), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        pts = max(round(timestamp_s / TIME_BASE), self._last_pts + 1)
        frame.pts, frame.time_base = pts, TIME_BASE
        self._last_pts = pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
