"""``posebeam train segmenter`` and ``posebeam evaluate segmenter``: flags, checks, and the calls into
:mod:`posebeam.training.train_segmenter`.

Every flag is spelled out here; the held-out flags and the spec-flag checks are the classifier's
(:mod:`posebeam.pipeline.train_command`). The spec flags build the segmenter's
:class:`~posebeam.transforms.frame_heatmaps.SegmenterSpec`, the model card's ``clip`` entry.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from posebeam.models.checkpoints import UnsafeCheckpoint, verify_checkpoint
from posebeam.models.registry import SEGMENTER, architecture, architectures
from posebeam.pipeline.train_command import add_held_out_arguments, spec_flag, spec_from_args
from posebeam.pipeline.usage import UsageError, non_negative_int, positive_float, positive_int
from posebeam.transforms.frame_heatmaps import SegmenterSpec

SEGMENTER_SPEC_DESTS: list[str] = []
"""The ``dest`` of every segmenter spec flag."""
SCORES = ("accuracy", "edit", "f1@10", "f1@25", "f1@50")


def check_exists(path: str, what: str) -> None:
    if "://" not in path and not os.path.exists(path):
        raise UsageError(f"{what} {path} does not exist")


def add_train_segmenter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="TABLES", help="folder with keypoints and frame_labels_gt tables")
    parser.add_argument("output", metavar="OUTPUT", type=Path, help="folder for the weights and model card")
    parser.add_argument("--architecture", default="heatmap_mstcn", choices=architectures(SEGMENTER))
    parser.add_argument(
        "--epochs-frames", dest="epochs_frames", type=positive_int, default=4,
        help="step a: epochs of the per-frame encoder and head over every labelled frame (default: 4)",
    )  # fmt: skip
    parser.add_argument(
        "--epochs-tcn", dest="epochs_tcn", type=positive_int, default=50,
        help="step b: epochs of MS-TCN++ on the frozen encoder's features (default: 50)",
    )  # fmt: skip
    parser.add_argument(
        "--batch-size", dest="batch_size", type=positive_int, default=4,
        help="tracks per MS-TCN++ batch, zero-padded and masked (default: 4)",
    )  # fmt: skip
    parser.add_argument(
        "--frame-batch-size", dest="frame_batch_size", type=positive_int, default=64,
        help="frames per encoder batch in step a (default: 64)",
    )  # fmt: skip
    parser.add_argument("--lr", type=positive_float, default=None, help="MS-TCN++ Adam rate (default: 5e-4)")
    parser.add_argument(
        "--frame-lr", dest="frame_lr", type=positive_float, default=1e-3,
        help="encoder Adam rate, cosine-decayed to 0 (default: 1e-3)",
    )  # fmt: skip
    parser.add_argument(
        "--augmented-copies", dest="augmented_copies", type=non_negative_int, default=1,
        help="augmented views per track, besides the clean one, whose features train MS-TCN++ (default: 1)",
    )  # fmt: skip
    parser.add_argument(
        "--chunk-frames", dest="chunk_frames", type=positive_int, default=256,
        help="frames rendered and encoded at a time (memory only; default: 256)",
    )  # fmt: skip
    add_held_out_arguments(parser, "tracks")
    parser.add_argument(
        "--validation-data", dest="validation_data", metavar="TABLES", default=None,
        help="fit a temperature for the frame probabilities on these tables' tracks (e.g. posebeam synth "
        "--motion mocap --split test with another seed: unseen captures); default: not calibrated",
    )  # fmt: skip
    spec = parser.add_argument_group("segmenter spec (saved in the model card)")
    dests = SEGMENTER_SPEC_DESTS
    spec_flag(spec, "--heatmap-size", positive_int, "heatmap side in pixels (default: 32)", dests)
    spec_flag(spec, "--sigma", positive_float, "heatmap σ in heatmap pixels (default: 0.6)", dests)
    spec_flag(
        spec, "--box-window", positive_int, "frames of the crop box's running median, odd (default 15)", dests
    )
    spec_flag(spec, "--feature-dim", positive_int, "encoder features per frame (default: 128)", dests)
    spec_flag(
        spec, "--tcn-window", positive_int, "longer tracks are segmented in windows of this many frames "
        "(default: 512)", dests,
    )  # fmt: skip
    rgb = "rgb_heatmap_mstcn only: "
    spec_flag(spec, "--rgb-size", positive_int, rgb + "side of the person's RGB crops (default: 32)", dests)
    spec_flag(spec, "--rgb-dim", positive_int, rgb + "RGB features per frame (default: 64)", dests)
    spec_flag(
        spec, "--rgb-stages", _stages, rgb + "MS-TCN++ stages the RGB features enter, comma-separated: "
        "0 the first, k refinement stage k (default: 0)", dests,
    )  # fmt: skip


def _stages(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected stage numbers such as 0,3, got {text!r}") from None


def run_train_segmenter(args: argparse.Namespace) -> str:
    from posebeam.training.train_segmenter import SegmenterConfig, train

    check_exists(args.data, "TABLES")
    if args.test_data is not None:
        check_exists(args.test_data, "--test-data")
    if args.validation_data is not None:
        check_exists(args.validation_data, "--validation-data")
    spec = spec_from_args(architecture(args.architecture).spec, args, SEGMENTER_SPEC_DESTS, args.architecture)
    assert isinstance(spec, SegmenterSpec), "segmenters take a SegmenterSpec"
    config = SegmenterConfig(
        architecture=args.architecture, epochs_frames=args.epochs_frames, epochs_tcn=args.epochs_tcn,
        frame_batch_size=args.frame_batch_size, frame_lr=args.frame_lr, batch_size=args.batch_size,
        lr=args.lr, augmented_copies=args.augmented_copies, test_fraction=args.test_fraction,
        seed=args.seed, chunk_frames=args.chunk_frames,
    )  # fmt: skip
    card = train(args.data, args.output, config, spec, args.test_data, args.validation_data)
    return f"held-out {_summary(card['metrics']['held_out'])}; weights in {args.output}"


def _summary(scores: dict[str, Any]) -> str:
    def line(s: dict[str, Any]) -> str:
        return " ".join(f"{name} {s[name]:.1f}" for name in SCORES)

    return f"model: {line(scores)}; per-frame baseline: {line(scores['per_frame_baseline'])}"


def add_evaluate_segmenter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("weights", metavar="WEIGHTS", help="a .safetensors segmenter with its model card")
    parser.add_argument("data", metavar="TABLES", help="folder with keypoints and frame_labels_gt tables")
    parser.add_argument(
        "--json", action="store_true",
        help="print one JSON object: accuracy, edit, f1@10, f1@25, f1@50 (percent), per_frame_baseline",
    )  # fmt: skip
    parser.add_argument(
        "--chunk-frames", dest="chunk_frames", type=positive_int, default=256,
        help="frames rendered and encoded at a time (memory only; default: 256)",
    )  # fmt: skip


def run_evaluate_segmenter(args: argparse.Namespace) -> str | None:
    """The scores as a summary line, or with ``--json`` printed as one JSON object (returns None)."""
    from posebeam.training.train_segmenter import evaluate

    check_exists(args.data, "TABLES")
    try:
        card = verify_checkpoint(args.weights)
        entry = architecture(str(card.get("architecture")))
    except UnsafeCheckpoint as err:
        raise UsageError(str(err)) from None
    except KeyError as err:  # an architecture this posebeam does not know
        raise UsageError(f"{args.weights}: {err.args[0]}") from None
    if entry.family != SEGMENTER:
        raise UsageError(f"{args.weights} holds a {entry.family} ({entry.name}), not a segmenter")
    scores = evaluate(args.weights, args.data, args.chunk_frames)
    if args.json:
        print(json.dumps(scores))
        return None
    return f"{_summary(scores)} on {scores['tracks']} tracks, {scores['frames']} frames"
