"""``posebeam train aligner`` and ``posebeam evaluate aligner``: flags, checks, and the calls into
:mod:`posebeam.training.train_aligner`.

Training reads a keypoints table alone (self-supervised); ``--test-data`` and ``evaluate`` read
``phase_labels`` and ``frame_labels_gt`` for the evaluation protocol only. The spec flags build the
aligner's :class:`~posebeam.transforms.alignment_views.AlignerSpec`, the model card's ``clip`` entry.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from posebeam.models.checkpoints import UnsafeCheckpoint
from posebeam.pipeline.segment_command import check_exists
from posebeam.pipeline.train_command import spec_flag, spec_from_args
from posebeam.pipeline.usage import UsageError, non_negative_int, positive_float, positive_int
from posebeam.transforms.alignment_views import AlignerSpec

ALIGNER_SPEC_DESTS: list[str] = []
"""The ``dest`` of every aligner spec flag."""
METRICS = ("classification@0.1", "classification@0.5", "classification@1.0", "progression", "kendalls_tau",
           "ap@5", "ap@10", "ap@15")  # fmt: skip


def add_train_aligner_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="TABLES", help="folder with a keypoints table (no labels are read)")
    parser.add_argument("output", metavar="OUTPUT", type=Path, help="folder for the weights and model card")
    parser.add_argument("--steps", type=positive_int, default=2000, help="training steps (default: 2000)")
    parser.add_argument(
        "--batch-size", dest="batch_size", type=positive_int, default=4,
        help="tracks per step, each with its augmented copy (default: 4)",
    )  # fmt: skip
    parser.add_argument("--lr", type=positive_float, default=3e-4, help="Adam rate (default: 3e-4, CASA's)")
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument(
        "--test-data", dest="test_data", metavar="TABLES", default=None,
        help="score the aligner and the raw-keypoint baseline on these tables' repetitions (phase_labels, "
        "frame_labels_gt; e.g. posebeam synth --kind repetitions --split test)",
    )  # fmt: skip
    spec = parser.add_argument_group("aligner spec (saved in the model card)")
    dests = ALIGNER_SPEC_DESTS
    spec_flag(spec, "--heatmap-size", positive_int, "heatmap side in pixels (default: 32)", dests)
    spec_flag(spec, "--patch", positive_int, "patch side in heatmap pixels (default: 8)", dests)
    spec_flag(spec, "--dim", positive_int, "transformer width (default: 64)", dests)
    spec_flag(spec, "--depth", positive_int, "divided space-time blocks (default: 4)", dests)
    spec_flag(spec, "--heads", positive_int, "attention heads (default: 4)", dests)
    spec_flag(spec, "--embedding-dim", positive_int, "per-frame embedding size (default: 64)", dests)
    spec_flag(spec, "--clip-frames", positive_int, "frames per training window (default: 64)", dests)
    radius = "frames either side a frame attends to (default: 0, the whole window)"
    spec_flag(spec, "--temporal-radius", non_negative_int, radius, dests)


def run_train_aligner(args: argparse.Namespace) -> str:
    from posebeam.training.train_aligner import AlignerConfig, train

    check_exists(args.data, "TABLES")
    if args.test_data is not None:
        check_exists(args.test_data, "--test-data")
    spec = spec_from_args(AlignerSpec, args, ALIGNER_SPEC_DESTS, "the aligner")
    config = AlignerConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    card = train(args.data, args.output, config, spec, args.test_data)
    held_out = card["metrics"]["held_out"]
    scores = f"held-out {_summary(held_out)}; " if held_out else ""
    return f"{scores}weights in {args.output}"


def _summary(scores: dict[str, Any]) -> str:
    def line(s: dict[str, Any]) -> str:
        return " ".join(f"{name} {s[name]:.3f}" for name in METRICS)

    return f"aligner: {line(scores['aligner'])}; baseline: {line(scores['baseline'])}"


def add_evaluate_aligner_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("weights", metavar="WEIGHTS", help="a .safetensors aligner with its model card")
    parser.add_argument(
        "data", metavar="TABLES", help="folder with keypoints, phase_labels and frame_labels_gt tables"
    )
    parser.add_argument(
        "--train-data", dest="train_data", metavar="TABLES", default=None,
        help="fit the readouts (SVC, regressions) on these tables' repetitions, e.g. the aligner's own "
        "training videos, as the reference protocol fits them on a dataset's train split, and score every "
        "repetition of TABLES (default: split TABLES' repetitions by video, half for each)",
    )  # fmt: skip
    parser.add_argument("--seed", type=non_negative_int, default=0, help="the split of units (default: 0)")
    parser.add_argument(
        "--json", action="store_true",
        help='print one JSON object {"aligner": {...}, "baseline": {...}} with the metrics of the protocol',
    )  # fmt: skip


def run_evaluate_aligner(args: argparse.Namespace) -> str | None:
    """The scores as a summary line, or with ``--json`` printed as one JSON object (returns None)."""
    from posebeam.training.train_aligner import evaluate

    check_exists(args.data, "TABLES")
    if args.train_data is not None:
        check_exists(args.train_data, "--train-data")
    try:
        scores = evaluate(args.weights, args.data, args.seed, args.train_data)
    except (UnsafeCheckpoint, ValueError) as err:  # not an aligner; tables without repetitions to score
        raise UsageError(str(err).splitlines()[0]) from None
    if args.json:
        print(json.dumps({name: {m: scores[name][m] for m in (*METRICS, "actions")} for name in scores}))
        return None
    return _summary(scores)
