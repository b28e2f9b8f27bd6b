"""Cost of running the pose stage in a child process (crash isolation) against running it in-process.

Both sides run the same ``PoseStage`` (decode, HOG + BlazePose, tracking, keypoints table) on the
same clip of the sample street video, interleaved, after one warm-up each; the isolated side also
pays the request, the result's Arrow IPC bytes over a pipe and the parent's decoding of them. The
child's start-up (imports and model loading, once per worker) is printed separately. Goal: the
per-video overhead is at most 5 % of the pose stage's time.

    python benchmarks/isolation.py [--frames 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from extract import cut_clip

from posebeam.models.pose_backend import BACKENDS, create_backend
from posebeam.pipeline.isolation import IsolatedPoseStage
from posebeam.pipeline.pose_stage import ExtractConfig, PoseStage
from posebeam.storage.sample import cache_dir, fetch_sample
from posebeam.storage.video import content_hash


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="posebeam-isolation-"))
    clip = cut_clip(fetch_sample(cache_dir() / "sample"), work / "clip.avi", args.frames)
    with open(clip, "rb") as handle:
        video_id = content_hash(handle)
    config = ExtractConfig()
    in_process = PoseStage(config, create_backend(config.backend))
    isolated = IsolatedPoseStage(config, BACKENDS[config.backend])

    def run_in_process() -> int:
        with open(clip, "rb") as handle:
            _, counts = in_process.run(handle, str(clip), video_id)
        return counts.person_frames

    def run_isolated() -> int:
        result, counts = isolated.run(str(clip), video_id)
        assert result.failure is None, result.failure
        return counts.person_frames

    start = time.perf_counter()
    isolated.run(str(clip), video_id)  # starts the child, loads the backend, warms it up
    startup_and_first = time.perf_counter() - start
    run_in_process()  # warm-up
    times: dict[str, list[float]] = {"in-process": [], "isolated": []}
    persons: dict[str, int] = {}
    for _ in range(args.repeats):
        for name, fn in (("in-process", run_in_process), ("isolated", run_isolated)):
            start = time.perf_counter()
            persons[name] = fn()
            times[name].append(time.perf_counter() - start)
    isolated.close()

    best = {name: min(t) for name, t in times.items()}
    median = {name: statistics.median(t) for name, t in times.items()}
    assert persons["in-process"] == persons["isolated"], persons
    found = persons["isolated"]
    print(f"clip: {args.frames} frames of the sample, {found} person-frames, {args.repeats} runs each")
    for name in times:
        print(f"{name:11} best {best[name]:6.2f} s  median {median[name]:6.2f} s")
    print(
        f"isolation overhead per video: {best['isolated'] / best['in-process'] - 1:+.1%} (best), "
        f"{median['isolated'] / median['in-process'] - 1:+.1%} (median); goal <= +5 %"
    )
    print(f"child start-up + first video: {startup_and_first:.1f} s (once per worker, then reused)")


if __name__ == "__main__":
    main()
