"""Peak memory of ``posebeam extract`` as a video gets longer (goal: ≤ 1.5 GB, no growth with length).

A 1280×720 video is made from the sample street clip (upscaled, encoded once for one minute, then
its packets repeated with shifted timestamps to make 10 and 60 minutes), and ``posebeam extract
--fps 0.5`` runs on each length in its own process. The peak is the largest sum of resident memory
over the job's whole process tree (the CLI, Beam and the isolated pose-stage child), sampled every
50 ms from /proc.

    python benchmarks/memory.py [--minutes 1,10,60] [--fps 0.5] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from posebeam.storage.parquet_tables import read_table
from posebeam.storage.sample import cache_dir, fetch_sample

SIZE = (1280, 720)


def one_minute_720p(source: Path, target: Path) -> Path:
    """One minute of ``source`` upscaled to 1280×720 (looped if shorter), MPEG-4 Part 2."""
    with av.open(str(source)) as src:
        frames = [frame.to_ndarray(format="rgb24") for frame in src.decode(video=0)]
        rate = src.streams.video[0].average_rate or Fraction(10)
    count = int(60 * rate)
    with av.open(str(target), mode="w") as dst:
        stream = dst.add_stream("mpeg4", rate=rate)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        stream.bit_rate = 2_000_000
        for number in range(count):
            image = av.VideoFrame.from_ndarray(frames[number % len(frames)], format="rgb24")
            dst.mux(stream.encode(image.reformat(width=SIZE[0], height=SIZE[1])))
        dst.mux(stream.encode())
    return target


def repeated(minute: Path, target: Path, minutes: int) -> Path:
    """``minute``'s packets ``minutes`` times in a row, timestamps shifted (no re-encoding)."""
    with av.open(str(minute)) as src:
        stream = src.streams.video[0]
        packets = [
            (int(p.pts or 0), int(p.dts or 0), bytes(p), p.is_keyframe) for p in src.demux(stream) if p.size
        ]
        stamps = sorted(p[0] for p in packets)
        span = stamps[-1] - stamps[0] + (stamps[1] - stamps[0])
        with av.open(str(target), mode="w") as dst:
            out = dst.add_stream_from_template(stream)
            for repeat in range(minutes):
                for pts, dts, data, key in packets:
                    packet = av.Packet(data)
                    packet.pts, packet.dts = pts + repeat * span, dts + repeat * span
                    packet.is_keyframe, packet.stream = key, out
                    packet.time_base = stream.time_base or Fraction(1, 10)
                    dst.mux(packet)
    return target


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += next(
            (int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
        pending += [int(child) for child in children]
    return total


def peak_rss(argv: list[str]) -> tuple[int, float]:
    """Peak resident bytes of the process tree of ``argv`` and its wall time."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = [0]

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], _tree_rss(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if process.wait() != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {process.returncode}")
    sampler.join()
    return peak[0], time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="1,10,60")
    parser.add_argument("--fps", default="0.5")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    lengths = [int(m) for m in args.minutes.split(",")]
    clip = fetch_sample(cache_dir() / "sample")
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        minute = one_minute_720p(clip, work / "minute.mp4")
        for minutes in lengths:
            folder = work / f"m{minutes}"
            folder.mkdir()
            repeated(minute, folder / f"{minutes}min.mp4", minutes)
            command = [
                sys.executable,
                "-m",
                "posebeam.pipeline.cli",
                "extract",
                str(folder),
                str(work / f"out{minutes}"),
            ]
            peak, seconds = peak_rss([*command, "--fps", args.fps])
            video = read_table(str(work / f"out{minutes}"), "videos").to_pylist()[0]
            result[f"{minutes} min"] = {
                "peak_rss_mb": peak / 2**20, "seconds": seconds, "frames_decoded": video["frames_decoded"],
                "frames_processed": video["frames_processed"],
            }  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=2))
        return result
    print(f"posebeam extract --fps {args.fps} on 1280x720 video made from the sample clip:")
    for length, figures in result.items():
        frames = f"{figures['frames_decoded']} frames decoded, {figures['frames_processed']} estimated"
        rss = f"peak RSS {figures['peak_rss_mb']:7.0f} MB"
        print(f"  {length:>7}: {rss}  ({figures['seconds']:6.1f} s; {frames})")
    peaks = [figures["peak_rss_mb"] for figures in result.values()]
    print(f"  longest vs shortest: {peaks[-1] / peaks[0]:.2f}x (goal: ≤ 1.5 GB and no growth)")
    return result


if __name__ == "__main__":
    main()
