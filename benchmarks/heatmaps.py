"""Benchmark of the heatmap renderer against a PYSKL-style per-person, per-keypoint loop.

Both render the same seeded input in the same process (goal: ≥ 50× faster, max
abs difference ≤ 1e-4): 48 frames × 2 persons × 17 COCO joints + the 17 PYSKL limbs on a 64×64
grid, keypoints uniform inside the grid, scores in (0, 1]. Runs are interleaved and each side's
best and median of ``--repeats`` runs are printed, after one warm-up run each.

    python benchmarks/heatmaps.py [--frames 48] [--persons 2] [--size 64] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from pyskl_reference import render_loop

from posebeam.schemas.layouts import COCO17
from posebeam.transforms.heatmaps import LIMB_CUTOFF, render_heatmaps


def compare(
    name: str, fast: Callable[[], np.ndarray], slow: Callable[[], np.ndarray], repeats: int
) -> tuple[float, float]:
    """Time ``fast`` and ``slow`` interleaved; print best/median times, ratio and max abs diff."""
    diff = float(np.abs(fast() - slow()).max())  # also the warm-up run of each
    fast_times: list[float] = []
    slow_times: list[float] = []
    for _ in range(repeats):
        for func, times in ((slow, slow_times), (fast, fast_times)):
            start = time.perf_counter()
            func()
            times.append(time.perf_counter() - start)
    best_ratio = min(slow_times) / min(fast_times)
    median_ratio = statistics.median(slow_times) / statistics.median(fast_times)
    print(
        f"{name:<34} loop {min(slow_times) * 1e3:7.1f} ms (median {statistics.median(slow_times) * 1e3:6.1f})"
        f"  posebeam {min(fast_times) * 1e3:6.2f} ms (median {statistics.median(fast_times) * 1e3:6.2f})"
        f"  ratio {best_ratio:5.1f}× (medians {median_ratio:5.1f}×)  max |diff| {diff:.1e}"
    )
    return best_ratio, diff


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--persons", type=int, default=2)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    shape = (args.frames, args.persons, COCO17.num_joints)
    keypoints = rng.uniform(0, args.size - 1, (*shape, 2)).astype(np.float32)
    scores = (1.0 - rng.random(shape)).astype(np.float32)  # (0, 1]
    size, limbs = args.size, COCO17.limbs
    print(
        f"{args.frames} frames × {args.persons} persons × {COCO17.num_joints} joints + {len(limbs)} limbs, "
        f"{size}×{size}, σ = 0.6, limb cutoff {LIMB_CUTOFF:g}"
    )

    ratio, diff = compare(
        "joints + limbs (C = 34)",
        lambda: render_heatmaps(keypoints, scores, size, size, limbs=limbs, with_joints=True),
        lambda: render_loop(keypoints, scores, size, size, limbs=limbs, with_joints=True),
        args.repeats,
    )
    compare(
        "joints only (C = 17)",
        lambda: render_heatmaps(keypoints, scores, size, size),
        lambda: render_loop(keypoints, scores, size, size),
        args.repeats,
    )
    compare(
        "limbs only (C = 17)",
        lambda: render_heatmaps(keypoints, scores, size, size, limbs=limbs),
        lambda: render_loop(keypoints, scores, size, size, limbs=limbs, with_joints=False),
        args.repeats,
    )
    compare(
        "joints + limbs, cutoff 0 (full windows)",
        lambda: render_heatmaps(keypoints, scores, size, size, limbs=limbs, with_joints=True, cutoff=0.0),
        lambda: render_loop(keypoints, scores, size, size, limbs=limbs, with_joints=True),
        args.repeats,
    )
    verdict = "met" if ratio >= 50 and diff <= 1e-4 else "NOT met"
    print(f"goal (≥ 50×, max |diff| ≤ 1e-4) for joints + limbs: {verdict} ({ratio:.1f}×, {diff:.1e})")


if __name__ == "__main__":
    main()
