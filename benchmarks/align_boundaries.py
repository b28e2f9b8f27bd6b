"""Do DTW paths over the aligner's embeddings put phase boundaries together?

``posebeam align`` matches two executions by DTW over their embeddings. This script measures, on
held-out repetitions (the units of ``posebeam evaluate aligner``), how far apart the path puts the
starts of the same phase: for random pairs of units of one action from different videos, each
phase start t of A is matched to the first frame of B on the path (LAV's rule), and the error is its
distance in frames to where that phase starts in B. Six ways of aligning, side by side:

- fused: DTW over the checkpoint's embeddings (``--weights``) beside the keypoints
  (``alignment_features`` with ``--keypoint-weight``, default the one ``posebeam align`` uses), as
  ``posebeam run`` + ``posebeam align --frames-a/--frames-b`` do; the embeddings are computed over
  whole tracks and cut to the units, each unit z-normalised;
- aligner: the z-normalised embeddings alone (``posebeam align --keypoint-weight 0``); aligner_raw:
  the same without z-normalising;
- baseline: DTW over hip-centred, torso-scaled keypoints with confidences, z-normalised;
  baseline_raw: without;
- uniform: no features, A's time stretched linearly onto B's (synthetic executions of one capture
  differ mostly by a uniform speed, so this is the bar for these data).

``--warp SHARE`` re-times B's repetition non-uniformly before its features are computed (the rest of
its track unchanged): the first half of its motion takes SHARE of its frames and the second half
the rest (every other pair the other way round). A uniform stretch cannot follow that, and neither
can features that merely drift with time; features that follow the pose can.

    python benchmarks/align_boundaries.py data/rep-test \\
        --weights models/weights/aligner_space_time_mocap.safetensors [--pairs 60] [--seed 0]
        [--warp 0.7] [--keypoint-weight 1] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import numpy as np

from posebeam.models.aligner import embed_track, load_aligner
from posebeam.models.alignment import (
    KEYPOINT_WEIGHT,
    alignment_features,
    dtw_path,
    first_matches,
    z_normalised,
)
from posebeam.training.alignment_units import PhaseUnit, boundary_errors, phase_units, track_actions
from posebeam.training.datasets import FrameSequence, load_frame_sequences
from posebeam.training.train_classifier import device
from posebeam.transforms.track_coordinates import hip_torso_coordinates

METHODS = ("fused", "aligner", "aligner_raw", "baseline", "baseline_raw", "uniform")


def run(args: argparse.Namespace) -> dict[str, Any]:
    model, spec, _ = load_aligner(args.weights, device=str(device()))
    sequences, names = load_frame_sequences(args.test, args.test, table="phase_labels")
    units = phase_units(sequences, names, track_actions(args.test))
    cache: dict[tuple[str, int], np.ndarray] = {}

    def features(method: str, unit: PhaseUnit, order: np.ndarray | None = None) -> np.ndarray:
        """``unit``'s features, its track's frames taken in ``order`` (re-timed) when given."""
        s: FrameSequence = sequences[unit.sequence]
        frames = slice(None) if order is None else order
        keypoints, scores = s.keypoints[frames], s.scores[frames]
        embed: Callable[[], np.ndarray] = {
            "aligner": lambda: embed_track(model, keypoints, scores, spec),
            "baseline": lambda: hip_torso_coordinates(keypoints, scores),
        }[method]
        if order is not None:
            return embed()[unit.start : unit.end]
        if (method, unit.sequence) not in cache:
            cache[method, unit.sequence] = embed()
        return cache[method, unit.sequence][unit.start : unit.end]

    rng = np.random.default_rng(args.seed)
    per_action: dict[str, dict[str, dict[str, float]]] = {}
    everything: dict[str, list[int]] = {m: [] for m in METHODS}
    for action, found in units.items():
        pairs = [(a, b) for a in found for b in found if a.video_id != b.video_id]
        if not pairs:
            continue
        chosen = rng.choice(len(pairs), min(args.pairs, len(pairs)), replace=False)
        errors: dict[str, list[int]] = {m: [] for m in METHODS}
        for n, (a, b) in enumerate(pairs[i] for i in chosen):
            order = None
            if args.warp is not None:
                share = args.warp if n % 2 == 0 else 1 - args.warp
                timing = retimed_frames(b.end - b.start, share)
                frames = np.arange(len(sequences[b.sequence].keypoints))
                order = np.concatenate([frames[: b.start], b.start + timing, frames[b.end :]])
                b = dataclasses.replace(b, phases=b.phases[timing])
            pair = {m: (features(m, a), features(m, b, order)) for m in ("aligner", "baseline")}
            for method, (first, second) in pair.items():
                _, path = dtw_path(z_normalised(first), z_normalised(second))
                errors[method] += boundary_errors(a, b, first_matches(path))
                _, path = dtw_path(first, second)
                errors[f"{method}_raw"] += boundary_errors(a, b, first_matches(path))
            fused = [
                alignment_features(pair["aligner"][i], pair["baseline"][i], args.keypoint_weight)
                for i in (0, 1)
            ]
            _, path = dtw_path(*fused)
            errors["fused"] += boundary_errors(a, b, first_matches(path))
            length_a, length_b = a.end - a.start, b.end - b.start
            stretched = np.rint(np.arange(length_a) * (length_b - 1) / max(length_a - 1, 1))
            errors["uniform"] += boundary_errors(a, b, stretched)
        if errors["uniform"]:
            per_action[action] = {m: summary(e) for m, e in errors.items()}
            for m in METHODS:
                everything[m] += errors[m]
    overall = {m: summary(e) for m, e in everything.items()}
    return {"weights": str(args.weights), "test": args.test, "pairs_per_action": args.pairs,
            "seed": args.seed, "warp": args.warp, "keypoint_weight": args.keypoint_weight,
            "all": overall, "per_action": per_action}  # fmt: skip


def retimed_frames(length: int, share: float) -> np.ndarray:
    """Source frames of a ``length``-frame stretch re-timed so that its first half takes ``share`` of
    the frames and its second half the rest (piecewise linear, first and last frames kept)."""
    if not 0 < share < 1:
        raise ValueError(f"share must lie strictly between 0 and 1, got {share}")
    k = np.arange(length) / max(length - 1, 1)
    progress = np.where(k < share, 0.5 * k / share, 0.5 + 0.5 * (k - share) / (1 - share))
    return np.rint(progress * (length - 1)).astype(np.int64)


def summary(errors: list[int]) -> dict[str, float]:
    e = np.asarray(errors, dtype=float)
    return {"boundaries": len(e), "median": float(np.median(e)), "mean": round(float(e.mean()), 2),
            "within_3": round(float((e <= 3).mean()), 3)}  # fmt: skip


def table(result: dict[str, Any]) -> str:
    lines = [f"{'action':10} | " + " | ".join(f"{m:^21}" for m in METHODS),
             f"{'':10} | " + " | ".join(["median  mean  ≤3 fr."] * len(METHODS))]  # fmt: skip
    rows = {**result["per_action"], "all": result["all"]}
    for action, scores in rows.items():
        cells = [
            f"{scores[m]['median']:6.1f} {scores[m]['mean']:5.1f} {scores[m]['within_3']:6.2f}"
            for m in METHODS
        ]
        lines.append(f"{action:10} | " + " | ".join(f"{c:^21}" for c in cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("test", metavar="TEST_TABLES", help="keypoints, phase_labels and frame_labels_gt")
    parser.add_argument("--weights", required=True, help="the aligner's checkpoint")
    parser.add_argument("--pairs", type=int, default=60, help="unit pairs per action (default: 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--warp",
        type=float,
        default=None,
        metavar="SHARE",
        help="re-time each B repetition: its first half takes SHARE of its frames",
    )
    parser.add_argument(
        "--keypoint-weight",
        type=float,
        default=KEYPOINT_WEIGHT,
        help=f"the keypoints' weight beside the embeddings in 'fused' (default: {KEYPOINT_WEIGHT}, "
        "as posebeam align)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    result = run(args)
    print(json.dumps(result) if args.json else table(result))


if __name__ == "__main__":
    main()
