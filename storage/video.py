"""Packet-by-packet video decoding with PyAV that survives corrupt data.

A corrupt packet is counted and skipped; frames keep indices and timestamps derived from their
presentation timestamps, so a skipped packet leaves a gap instead of shifting later frames.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

import av
import av.error
import numpy as np

log = logging.getLogger(__name__)

MAX_CONSECUTIVE_ERRORS = 50
"""Stop reading a stream after this many corrupt packets in a row (a truncated or garbage tail)."""

HASH_CHUNK = 1 << 20

SEEK_SLACK_S = 0.5
"""A seek whose first frame comes later than this after the wanted time overshot (a broken index):
the reader then decodes from the start instead of losing the frames in between."""


class NoVideoStream(ValueError):
    """The container opened but holds no video stream."""


class NoFramesDecoded(ValueError):
    """The video stream produced no decodable frame."""


def content_hash(fileobj: IO[bytes]) -> str:
    """First 32 hex digits of the SHA-256 of the whole file: the ``video_id``."""
    digest = hashlib.sha256()
    while chunk := fileobj.read(HASH_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()[:32]


@dataclass
class StreamInfo:
    """What the ``videos`` table records about a stream; counters fill in during decoding."""

    width: int
    height: int
    fps: float | None
    duration_s: float | None
    codec: str
    rotation_deg: int = 0  # counterclockwise rotation applied to reach the display orientation
    frames_decoded: int = 0
    packets_skipped: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DecodedFrame:
    index: int
    timestamp_s: float
    rgb: np.ndarray  # (H, W, 3) uint8, possibly resized by max_side


def _scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    if not max_side or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    # Even sizes keep the swscale fast paths and chroma subsampling happy.
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


class VideoReader:
    """Opens a file object with PyAV and yields RGB frames packet by packet.

    Frames come in display orientation: a display-matrix rotation (phone videos) is applied, and
    ``info.width``/``info.height`` then describe the rotated frame.

    Usage::

        reader = VideoReader(fileobj, max_side=640)
        for frame in reader.frames():
            ...
        reader.info.packets_skipped
    """

    def __init__(self, fileobj: IO[bytes], max_side: int | None = None) -> None:
        self._container = av.open(fileobj, mode="r", metadata_errors="ignore")
        if not self._container.streams.video:
            has_streams = bool(self._container.streams)
            self._container.close()
            if has_streams:
                raise NoVideoStream("the file has no video stream")
            raise NoVideoStream(
                "the file holds no stream at all: its index is missing or cut short (an incomplete copy?)"
            )
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        ctx = self._stream.codec_context
        rate = self._stream.average_rate or self._stream.guessed_rate
        duration = None
        if self._stream.duration is not None and self._stream.time_base is not None:
            duration = float(self._stream.duration * self._stream.time_base)
        elif self._container.duration is not None:
            duration = self._container.duration / av.time_base
        self.info = StreamInfo(
            width=int(ctx.width),
            height=int(ctx.height),
            fps=float(rate) if rate else None,
            duration_s=duration,
            codec=ctx.name,
        )
        self.scale = 1.0
        self._out_size = _scaled_size(ctx.width, ctx.height, max_side)
        if ctx.width:
            self.scale = self._out_size[0] / ctx.width

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _timestamp(self, frame: av.VideoFrame, fallback: int) -> float:
        if frame.pts is None or self._stream.time_base is None:
            return fallback / (self.info.fps or 1.0)
        start = self._stream.start_time or 0
        return float((frame.pts - start) * self._stream.time_base)

    def _to_display(self, rgb: np.ndarray, frame: av.VideoFrame) -> np.ndarray:
        """Apply the stream's display matrix (phone videos): coordinates are as a player shows them."""
        quarter_turns = round(getattr(frame, "rotation", 0) / 90) % 4
        if quarter_turns and not self.info.rotation_deg:
            self.info.rotation_deg = quarter_turns * 90
            if quarter_turns % 2:
                self.info.width, self.info.height = self.info.height, self.info.width
        return np.ascontiguousarray(np.rot90(rgb, quarter_turns)) if quarter_turns else rgb

    def _record_error(self, err: Exception) -> None:
        self.info.packets_skipped += 1
        if len(self.info.errors) < 10:
            self.info.errors.append(f"{type(err).__name__}: {err}")

    def _seek(self, start_s: float) -> None:
        """Move to the keyframe at or before ``start_s``; a stream that cannot seek is read from
        where it is (the start, for a reader not yet read from)."""
        assert self._stream.time_base is not None
        start = self._stream.start_time or 0
        try:
            self._container.seek(
                start + int(start_s / self._stream.time_base), stream=self._stream, backward=True
            )
        except (av.error.FFmpegError, OSError, ValueError) as err:
            log.warning("cannot seek to %.2f s (%s): decoding from the current position", start_s, err)

    def frames(self, start_s: float | None = None) -> Iterator[DecodedFrame]:
        """Decoded frames in presentation order; corrupt packets are counted and skipped.

        With ``start_s`` decoding starts at the keyframe at or before that time (indices then come
        from timestamps, so they match a decode from the start of a constant-rate stream) and the
        frames more than half a frame before ``start_s`` are decoded but not converted nor yielded;
        the seek also rewinds a reader that has already been read from (``start_s = 0`` included).
        """
        last_index = -1
        consecutive_errors = 0
        first_s = -math.inf
        landed = start_s is None or start_s <= 0  # whether the seek is known not to have overshot
        if start_s is not None:
            first_s = start_s - 0.5 / (self.info.fps or 1000.0)
            self._seek(start_s)
        packets = self._container.demux(self._stream)
        while consecutive_errors < MAX_CONSECUTIVE_ERRORS:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except (av.error.FFmpegError, ValueError, OSError) as err:
                # A demux error ends the generator: record it and resume from where the
                # container's read position now is.
                consecutive_errors += 1
                self._record_error(err)
                packets = self._container.demux(self._stream)
                continue
            try:
                decoded = packet.decode()
            except (av.error.FFmpegError, ValueError) as err:
                consecutive_errors += 1
                self._record_error(err)
                continue
            consecutive_errors = 0
            for frame in decoded:
                timestamp = self._timestamp(frame, last_index + 1)
                if not landed:
                    landed = True
                    if timestamp > first_s + SEEK_SLACK_S:  # frames before it would be lost
                        log.warning(
                            "the seek to %.2f s landed at %.2f s: decoding from the start", start_s, timestamp
                        )
                        self._seek(0.0)
                        packets = self._container.demux(self._stream)
                        break
                index = last_index + 1
                if self.info.fps:
                    index = max(index, round(timestamp * self.info.fps))
                last_index = index
                self.info.frames_decoded += 1
                if timestamp < first_s:
                    continue
                width, height = self._out_size
                rgb = frame.to_ndarray(format="rgb24", width=width, height=height)
                yield DecodedFrame(index, timestamp, self._to_display(rgb, frame))
        if consecutive_errors >= MAX_CONSECUTIVE_ERRORS:
            log.warning("stopped after %d corrupt packets in a row", consecutive_errors)


def read_frames(reader: VideoReader, indices: Sequence[int]) -> list[DecodedFrame]:
    """The frames with the given indices (sorted, unique), decoding from the nearest keyframe.

    For model stages that need a clip's RGB frames: the video is re-read where the clip lies
    instead of frames crossing a shuffle. Indices missing from the stream are skipped.
    """
    wanted = set(indices)
    if not wanted:
        return []
    first, last = min(wanted), max(wanted)
    start_s = first / reader.info.fps if reader.info.fps else None
    found = []
    for frame in reader.frames(start_s=start_s):
        if frame.index in wanted:
            found.append(frame)
        if frame.index >= last:
            break
    return found


class FramesNotFound(ValueError):
    """The video no longer holds frames that were asked for (``missing``: their indices)."""

    def __init__(self, missing: Sequence[int]) -> None:
        super().__init__(f"frames {list(missing)[:5]} are missing from the video")
        self.missing = list(missing)


READ_ERRORS = (OSError, ValueError, av.error.FFmpegError)
"""What re-reading a video may raise: a missing file, no video stream, corrupt data, missing frames."""


def frames_at(reader: VideoReader, indices: Sequence[int]) -> list[np.ndarray]:
    """RGB images ``(H, W, 3)`` of the frames at ``indices`` (any order, repeats allowed), in that
    order; each distinct frame is decoded once by :func:`read_frames`. Raises
    :class:`FramesNotFound` when the stream lacks some of them."""
    wanted = sorted(set(indices))
    images = {frame.index: frame.rgb for frame in read_frames(reader, wanted)}
    missing = [index for index in wanted if index not in images]
    if missing:
        raise FramesNotFound(missing)
    return [images[index] for index in indices]


def finite_or_none(value: float | None) -> float | None:
    """``None`` for missing, NaN or infinite values (Parquet and BigQuery prefer nulls)."""
    if value is None or not math.isfinite(value):
        return None
    return value
