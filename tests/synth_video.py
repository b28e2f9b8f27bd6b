"""Small videos synthesised with PyAV for the tests: moving coloured boxes on a dark background."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BOX_W, BOX_H = 24, 48
BACKGROUND = 16
BRIGHT, DIM = 235, 165
"""Box intensities: the ``shapes`` backend scores a bright box as a confident detection, a dim one
as a weak detection."""


def box_positions(frame: int, num_boxes: int, width: int, height: int) -> list[tuple[int, int]]:
    """Top-left corners of the boxes in ``frame``: each walks right, 2 px per frame, on its own row."""
    positions = []
    for b in range(num_boxes):
        x = (8 + 2 * frame + 40 * b) % max(1, width - BOX_W)
        y = 8 + b * (BOX_H + 8)
        positions.append((x, min(y, height - BOX_H)))
    return positions


def frame_image(
    frame: int, num_boxes: int, width: int, height: int, dim_from: int | None = None
) -> np.ndarray:
    """Boxes on a dark background; the first box is dim from frame ``dim_from`` on."""
    image = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
    for b, (x, y) in enumerate(box_positions(frame, num_boxes, width, height)):
        dim = b == 0 and dim_from is not None and frame >= dim_from
        image[y : y + BOX_H, x : x + BOX_W] = DIM if dim else BRIGHT
    return image


def write_video(
    path: Path,
    *,
    frames: int = 24,
    fps: int = 12,
    width: int = 160,
    height: int = 128,
    codec: str = "mpeg4",
    num_boxes: int = 2,
    gop: int = 6,
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    dim_from: int | None = None,
) -> Path:
    """Encode ``frames`` frames of moving boxes; the container comes from the file extension; the
    first box is dim from frame ``dim_from`` on.

    ``pts`` (in ``time_base`` units, default ``1 / fps``) gives irregular presentation times
    (variable frame rate); by default frame ``i`` is shown at ``i / fps``.
    """
    time_base = time_base or Fraction(1, fps)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        stream.codec_context.gop_size = gop
        stream.time_base = stream.codec_context.time_base = time_base
        for i, t in enumerate(pts if pts is not None else range(frames)):
            image = frame_image(i, num_boxes, width, height, dim_from)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = t
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_audio_only(path: Path, seconds: float = 0.5) -> Path:
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=16000)
        samples = int(16000 * seconds)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, samples), dtype=np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 16000
        frame.pts = 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_broken_inputs(folder: Path, valid: Path) -> dict[str, str]:
    """Three kinds of broken file next to a valid video; returns name → expected failure stage."""
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.mp4").write_text("this is a text file, not a video\n")
    (folder / "truncated.avi").write_bytes(valid.read_bytes()[:64])  # cut inside the header
    return {"empty.mp4": "read", "notes.mp4": "open", "truncated.avi": "open"}


def corrupt_packets(src: Path, out: Path, packet_numbers: set[int], seed: int = 0) -> Path:
    """Remux ``src`` into ``out`` with the payload of the given video packets replaced by noise."""
    rng = np.random.default_rng(seed)
    with av.open(str(src)) as source, av.open(str(out), mode="w") as target:
        stream = source.streams.video[0]
        out_stream = target.add_stream_from_template(stream)
        for number, packet in enumerate(source.demux(stream)):
            if packet.size == 0:
                continue
            if number in packet_numbers:
                noise = av.Packet(rng.integers(0, 256, packet.size, dtype=np.uint8).tobytes())
                noise.pts, noise.dts, noise.time_base = packet.pts, packet.dts, packet.time_base
                packet = noise
            packet.stream = out_stream
            target.mux(packet)
    return out


def set_mp4_rotation_clockwise_90(path: Path) -> Path:
    """Patch the track header's display matrix of an .mp4 to "rotate 90° clockwise to display".

    This is what phones write for portrait video; PyAV reports it as ``frame.rotation == -90``.
    """
    data = bytearray(path.read_bytes())
    tkhd = data.index(b"tkhd")
    assert data[tkhd + 4] == 0, "version-0 tkhd expected"
    matrix = tkhd + 44  # after version/flags, 5×u32 times/ids/duration, 8 reserved, 4×u16
    values = [0, 1 << 16, 0, (-1 << 16) & 0xFFFFFFFF, 0, 0, 0, 0, 1 << 30]
    data[matrix : matrix + 36] = b"".join(v.to_bytes(4, "big") for v in values)
    path.write_bytes(bytes(data))
    return path


def remux_index_first(src: Path, out: Path) -> Path:
    """Remux an .mp4 with its index (moov) before the media data, as streaming sites serve it."""
    with (
        av.open(str(src)) as source,
        av.open(str(out), mode="w", options={"movflags": "faststart"}) as target,
    ):
        stream = source.streams.video[0]
        out_stream = target.add_stream_from_template(stream)
        for packet in source.demux(stream):
            if packet.size:
                packet.stream = out_stream
                target.mux(packet)
    return out
