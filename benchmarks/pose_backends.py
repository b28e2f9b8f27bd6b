"""Every pose backend side by side on the sample street clip (vtest.avi, 768×576, pedestrians).

Each backend runs the whole pose stage (decode, boxes, keypoints, tracking) in this process on the
first ``--frames`` frames, one core. Printed per backend: persons per frame, the share of
person-frames in tracks of at least 20 frames, the number of tracks, frames per second, and mean
joint confidence; then, for persons that two backends both found (box IoU ≥ 0.5), how far apart
their confident joints are, in units of the box height. Goals for the default backend on the
first 100 frames: ≥ 4.0 persons per frame, ≥ 80 % of person-frames in long tracks, frames/s at
least the HOG + BlazePose backend's.

    python benchmarks/pose_backends.py [--frames 100] [--backends movenet,blazepose]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from extract import cut_clip

from posebeam.models.pose_backend import create_backend
from posebeam.pipeline.pose_stage import ExtractConfig, PoseStage
from posebeam.storage.sample import cache_dir, fetch_sample
from posebeam.transforms.boxes import iou_matrix

LONG_TRACK = 20


def run_backend(name: str, clip: Path) -> tuple[pa.Table, float, int]:
    """The keypoints table of ``clip`` under backend ``name``, the frames/s of the pose stage, and
    the number of frames."""
    stage = PoseStage(ExtractConfig(backend=name), create_backend(name))
    with open(clip, "rb") as handle:  # warm-up on the same clip (model loading, first calls)
        stage.run(handle, str(clip), "warmup")
    start = time.perf_counter()
    with open(clip, "rb") as handle:
        result, counts = stage.run(handle, str(clip), "bench")
    assert result.keypoints is not None, result.failure
    return result.keypoints, counts.frames / (time.perf_counter() - start), counts.frames


def summary(table: pa.Table, frames: int) -> dict[str, float]:
    person = table.column("person_id").to_numpy()
    ids, lengths = np.unique(person, return_counts=True)
    long_rows = lengths[lengths >= LONG_TRACK].sum()
    joints = table.column("keypoints").combine_chunks().flatten().to_numpy().reshape(-1, 17, 3)
    return {
        "persons/frame": len(person) / frames,
        "in long tracks": long_rows / max(len(person), 1),
        "tracks": float(len(ids)),
        "joint conf": float(joints[..., 2].mean()) if len(joints) else 0.0,
    }


def agreement(a: pa.Table, b: pa.Table, min_conf: float = 0.3) -> tuple[float, int]:
    """Median distance between joints both backends are confident of, over box height, and the
    number of matched persons."""
    distances, matched = [], 0
    frames_a, frames_b = a.column("frame_index").to_numpy(), b.column("frame_index").to_numpy()
    boxes_a = a.column("bbox").combine_chunks().flatten().to_numpy().reshape(-1, 4)
    boxes_b = b.column("bbox").combine_chunks().flatten().to_numpy().reshape(-1, 4)
    joints_a = a.column("keypoints").combine_chunks().flatten().to_numpy().reshape(-1, 17, 3)
    joints_b = b.column("keypoints").combine_chunks().flatten().to_numpy().reshape(-1, 17, 3)
    for frame in np.intersect1d(frames_a, frames_b):
        rows_a, rows_b = np.flatnonzero(frames_a == frame), np.flatnonzero(frames_b == frame)
        iou = iou_matrix(boxes_a[rows_a], boxes_b[rows_b])
        for i, j in zip(*np.nonzero(iou >= 0.5), strict=True):
            ja, jb = joints_a[rows_a[i]], joints_b[rows_b[j]]
            both = (ja[:, 2] >= min_conf) & (jb[:, 2] >= min_conf)
            height = boxes_a[rows_a[i], 3] - boxes_a[rows_a[i], 1]
            if both.any() and height > 0:
                matched += 1
                distances.extend(np.linalg.norm(ja[both, :2] - jb[both, :2], axis=1) / height)
    return (float(np.median(distances)) if distances else float("nan")), matched


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--backends", default="movenet,blazepose")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="posebeam-backends-"))
    clip = cut_clip(fetch_sample(cache_dir() / "sample"), work / "clip.avi", args.frames)
    tables, speeds = {}, {}
    header = ("backend", "persons/frame", "in long tracks", "tracks", "frames/s", "joint conf")
    print("{:10} {:>13} {:>14} {:>6} {:>8} {:>10}".format(*header))
    for name in args.backends.split(","):
        tables[name], speeds[name], frames = run_backend(name, clip)
        s = summary(tables[name], frames)
        print(f"{name:10} {s['persons/frame']:13.2f} {s['in long tracks']:14.1%} {s['tracks']:6.0f} "
              f"{speeds[name]:8.2f} {s['joint conf']:10.2f}")  # fmt: skip
    for a, b in itertools.combinations(tables, 2):
        median, matched = agreement(tables[a], tables[b])
        print(f"{a} vs {b}: {matched} person-frames found by both (box IoU ≥ 0.5); median joint distance "
              f"{median:.3f} box heights; "
              f"speed {speeds[a] / speeds[b]:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
