"""How the extract job scales on one machine, measured side by side in one run.

1. Workers: frames per second of ``posebeam extract`` (MoveNet, the default backend) on a folder of
   pieces of the sample street clip, with one worker and with ``--direct_num_workers N
   --direct_running_mode multi_processing`` (goal: ≥ 1.7× with 2 workers on 2 cores).
2. One long video: the whole sample clip (795 frames) as the only input, in ``--window_s`` windows,
   with one worker and with N (goal: ≥ 1.7×: the windows spread over the workers), and the cost of
   windowing itself (one worker, windows against the whole video in one piece).
3. Inputs: seconds per video as the folder grows from 10 to 100 short videos (the graph does not
   grow with the inputs). The job's fixed start-up is paid once, so the figure that must stay flat
   is the marginal cost: the extra seconds per extra video from one folder size to the next (goal:
   the last step's ≤ 1.2× the first step's).

Timings on a shared machine wander by 10–20 % from run to run, so parts 1 and 2 alternate
``--repeats`` runs of each worker count and compare the fastest of each.

    python benchmarks/scale.py [--pieces 8] [--piece-frames 40] [--workers 2] [--window-s 13]
        [--counts 10,30,100] [--small-frames 7] [--repeats 2] [--parts workers,long_video,inputs]
        [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa

from posebeam.pipeline.run import launch, summarise
from posebeam.storage.parquet_tables import read_table
from posebeam.storage.sample import cache_dir, fetch_sample

PARTS = ("workers", "long_video", "inputs")


def timed_extract(folder: Path, output: Path, beam_args: list[str]) -> tuple[float, int]:
    """Seconds and frames of one ``extract`` job over ``folder``."""
    start = time.perf_counter()
    summary = summarise(launch(["--input", str(folder), "--output", str(output), *beam_args]))
    return time.perf_counter() - start, summary.frames


def distinct_pieces(clip: Path, folder: Path, count: int, frames: int) -> list[Path]:
    """``count`` videos of ``frames`` consecutive frames each, from successive parts of ``clip``
    (re-encoded, MPEG-4 Part 2): distinct bytes, so no two share a ``video_id`` and get decoded
    once (identical files are)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    while len(paths) < count:
        with av.open(str(clip)) as src:
            stream = src.streams.video[0]
            rate = stream.average_rate or Fraction(10)
            decoded = src.decode(stream)
            while len(paths) < count:
                chunk = list(itertools.islice(decoded, frames))
                if len(chunk) < frames:
                    break
                path = folder / f"piece{len(paths):03d}.mp4"
                with av.open(str(path), mode="w") as dst:
                    out = dst.add_stream("mpeg4", rate=rate)
                    out.width, out.height, out.pix_fmt = chunk[0].width, chunk[0].height, "yuv420p"
                    for frame in chunk:
                        dst.mux(out.encode(frame.reformat(format="yuv420p")))
                    dst.mux(out.encode())
                paths.append(path)
    return paths


def fastest_pair(
    folder: Path, work: Path, name: str, one: list[str], many: list[str], repeats: int
) -> tuple[float, float, int]:
    """The fastest of ``repeats`` runs with 1 worker (``one``) and with N (``many``), alternated, so
    that a slow spell of a shared machine does not land on one side; and the frames decoded."""
    times: dict[str, list[float]] = {"one": [], "many": []}
    frames = set()
    for repeat in range(repeats):
        for side, beam_args in (("one", one), ("many", many)):
            seconds, decoded = timed_extract(folder, work / f"{name}_{side}{repeat}", beam_args)
            times[side].append(seconds)
            frames.add(decoded)
    assert len(frames) == 1, "every run decodes the same frames"
    return min(times["one"]), min(times["many"]), frames.pop()


def worker_scaling(
    clip: Path, work: Path, pieces: int, frames: int, workers: int, repeats: int = 1
) -> dict[str, Any]:
    folder = work / "pieces"
    distinct_pieces(clip, folder, pieces, frames)
    many = ["--direct_num_workers", str(workers), "--direct_running_mode", "multi_processing"]
    one_s, many_s, decoded = fastest_pair(folder, work, "pieces", ["--direct_num_workers=1"], many, repeats)
    return {
        "frames": decoded,
        "workers": workers,
        "one_worker_fps": decoded / one_s,
        "many_workers_fps": decoded / many_s,
        "speed_up": one_s / many_s,
    }


def track_agreement(whole: pa.Table, windowed: pa.Table) -> dict[str, Any]:
    """How far the windowed keypoints are the single pass's up to a renaming of ``person_id``: the
    share of rows both have (same frame and box), and of those the share whose windowed id maps to
    the single-pass id it most often stands for (1.0: a pure renaming)."""
    frames = []
    for table in (whole, windowed):
        df = table.select(["frame_index", "person_id", "bbox"]).to_pandas()
        df["box"] = df.pop("bbox").map(lambda box: tuple(np.round(np.asarray(box, dtype=float), 1).tolist()))
        frames.append(df)
    joined = frames[0].merge(frames[1], on=["frame_index", "box"], suffixes=("_whole", "_windows"))
    counts = joined.groupby(["person_id_windows", "person_id_whole"]).size()
    agreeing = int(counts.groupby(level=0).max().sum())
    return {
        "rows": len(frames[0]),
        "rows_shared": len(joined) / max(1, max(len(frames[0]), len(frames[1]))),
        "ids_agreeing": agreeing / max(1, len(joined)),
        "persons": (int(frames[0]["person_id"].nunique()), int(frames[1]["person_id"].nunique())),
    }


def long_video_scaling(
    clip: Path, work: Path, workers: int, window_s: float, repeats: int = 1
) -> dict[str, Any]:
    folder = work / "long"
    folder.mkdir()
    os.link(clip, folder / clip.name)
    whole = [
        timed_extract(folder, work / f"whole{r}", ["--window_s", "0", "--direct_num_workers=1"])
        for r in range(repeats)
    ]
    assert len({frames for _, frames in whole}) == 1, "every run reports the same frames"
    whole_s, decoded = min(whole)  # the fastest, as for the windowed runs it is compared with
    windows = ["--window_s", str(window_s)]
    one = [*windows, "--direct_num_workers=1"]
    many = [*windows, "--direct_num_workers", str(workers), "--direct_running_mode", "multi_processing"]
    one_s, many_s, decoded_windows = fastest_pair(folder, work, "long", one, many, repeats)
    assert decoded == decoded_windows, "every run reports the same frames"
    return {
        **track_agreement(
            read_table(str(work / "whole0"), "keypoints"), read_table(str(work / "long_one0"), "keypoints")
        ),
        "frames": decoded,
        "window_s": window_s,
        "whole_fps": decoded / whole_s,
        "one_worker_fps": decoded / one_s,
        "many_workers_fps": decoded / many_s,
        "windowing_cost": one_s / whole_s,
        "speed_up": one_s / many_s,
    }


def input_scaling(clip: Path, work: Path, counts: list[int], frames: int) -> dict[str, Any]:
    pieces = distinct_pieces(clip, work / "small", max(counts), frames)
    total = {}
    for count in counts:
        folder = work / f"videos{count}"
        folder.mkdir()
        for piece in pieces[:count]:
            os.link(piece, folder / piece.name)
        total[count], _ = timed_extract(folder, work / f"out{count}", [])
    marginal = {f"{a}->{b}": (total[b] - total[a]) / (b - a) for a, b in itertools.pairwise(counts)}
    steps = list(marginal.values())
    return {
        "frames_per_video": frames,
        "seconds": total,
        "seconds_per_video": {count: total[count] / count for count in counts},
        "marginal_seconds_per_video": marginal,
        "ratio": steps[-1] / steps[0],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=8)
    parser.add_argument("--piece-frames", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--window-s", type=float, default=13.0)
    parser.add_argument("--counts", default="10,30,100")
    parser.add_argument("--small-frames", type=int, default=7)
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs of each worker count, alternated; the fastest counts"
    )
    parser.add_argument("--parts", default=",".join(PARTS), help="which parts to run (default: all)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    if unknown := set(parts) - set(PARTS):
        parser.error(f"--parts: unknown {sorted(unknown)}; choose from {', '.join(PARTS)}")
    clip = fetch_sample(cache_dir() / "sample")
    counts = [int(c) for c in args.counts.split(",")]
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "workers" in parts:
            pieces, frames = args.pieces, args.piece_frames
            result["workers"] = worker_scaling(clip, work, pieces, frames, args.workers, args.repeats)
        if "long_video" in parts:
            result["long_video"] = long_video_scaling(clip, work, args.workers, args.window_s, args.repeats)
        if "inputs" in parts:
            result["inputs"] = input_scaling(clip, work, counts, args.small_frames)
    if args.json:
        print(json.dumps(result, indent=2))
        return result
    print(f"fastest of {args.repeats} alternated runs per worker count")
    if "workers" in result:
        print_workers(result["workers"], args.pieces)
    if "long_video" in result:
        print_long_video(result["long_video"], args.workers)
    if "inputs" in result:
        print_inputs(result["inputs"])
    return result


def print_workers(w: dict[str, Any], pieces: int) -> None:
    print(f"{w['frames']} frames in {pieces} distinct pieces of the street clip (MoveNet):")
    print(f"  1 worker:  {w['one_worker_fps']:6.2f} frames/s")
    speed_up = f"{w['speed_up']:.2f}x (goal ≥ 1.7x)"
    print(f"  {w['workers']} workers: {w['many_workers_fps']:6.2f} frames/s  -> {speed_up}")


def print_long_video(lv: dict[str, Any], workers: int) -> None:
    print(f"one video of {lv['frames']} frames (the whole clip), windows of {lv['window_s']:g} s:")
    print(f"  in one piece, 1 worker: {lv['whole_fps']:6.2f} frames/s")
    cost = f"({lv['windowing_cost']:.2f}x the time)"
    print(f"  windows, 1 worker:      {lv['one_worker_fps']:6.2f} frames/s  {cost}")
    print(
        f"  windowed keypoints against one piece: {lv['rows_shared']:.1%} of rows shared, "
        f"{lv['ids_agreeing']:.1%} of them on the track a renaming gives (persons {lv['persons']})"
    )
    speed_up = f"{lv['speed_up']:.2f}x (goal ≥ 1.7x)"
    print(f"  windows, {workers} workers:     {lv['many_workers_fps']:6.2f} frames/s  -> {speed_up}")


def print_inputs(i: dict[str, Any]) -> None:
    print(f"{i['frames_per_video']}-frame videos, seconds per video as the folder grows:")
    for count, seconds in i["seconds"].items():
        print(f"  {count:4d} videos: {seconds:7.2f} s, {seconds / count:6.3f} s per video")
    for step, seconds in i["marginal_seconds_per_video"].items():
        print(f"  {step:>9} videos: {seconds:6.3f} s per extra video")
    print(f"  last step vs first: {i['ratio']:.2f}x (goal: flat, ≤ 1.2x)")


if __name__ == "__main__":
    main()
