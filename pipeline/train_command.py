"""``posebeam train classifier`` and ``posebeam evaluate classifier``: flags, checks, and the calls
into :mod:`posebeam.training`.

Every flag is spelled out here. The clip-spec flags build the architecture's spec (the model
card's ``clip`` entry, :mod:`posebeam.models.registry`); a flag of another architecture's spec is a
usage error.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from posebeam.models.registry import CLASSIFIER, architecture, architectures
from posebeam.pipeline.usage import UsageError, fraction, non_negative_int, positive_float, positive_int
from posebeam.transforms.clip_inputs import CardSpec

SPEC_DESTS: list[str] = []
"""The ``dest`` of every clip-spec flag, in the order they are defined."""
SpecT = TypeVar("SpecT", bound=CardSpec)


def spec_flag(
    group: Any, flag: str, kind: Callable[[str], Any], help: str, dests: list[str] = SPEC_DESTS, **extra: Any
) -> None:
    """A spec flag (default None: the spec's own default), its ``dest`` recorded in ``dests``."""
    action = group.add_argument(flag, type=kind, default=None, help=help, **extra)
    if action.dest not in dests:
        dests.append(action.dest)


def spec_from_args(spec_type: type[SpecT], args: argparse.Namespace, dests: list[str], name: str) -> SpecT:
    """``spec_type`` from the spec flags given (others keep the spec's defaults); a flag the spec
    does not have, or a value it refuses, is a usage error naming ``name``."""
    spec_fields = {f.name for f in fields(spec_type)}
    given = {dest: getattr(args, dest) for dest in dests if getattr(args, dest) is not None}
    foreign = [dest for dest in given if dest not in spec_fields]
    if foreign:
        raise UsageError(f"--{foreign[0].replace('_', '-')} does not apply to {name}")
    try:
        return spec_type(**given)
    except ValueError as err:  # e.g. RGBPose's pose frames = 4 × RGB frames
        raise UsageError(str(err)) from None


def add_held_out_arguments(parser: argparse.ArgumentParser, samples: str) -> None:
    """``--seed``, ``--test-data`` and ``--test-fraction``: what every trainer holds out, by video."""
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument(
        "--test-data", dest="test_data", metavar="TABLES", default=None,
        help=f"score on these tables' {samples} instead of holding out --test-fraction of the videos "
        "(e.g. posebeam synth --motion mocap --split test: unseen captures)",
    )  # fmt: skip
    parser.add_argument("--test-fraction", dest="test_fraction", type=fraction, default=0.3)


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data", metavar="TABLES",
        help="folder with keypoints and clip_labels tables (rgbpose_conv3d: and videos whose files exist)",
    )  # fmt: skip
    parser.add_argument(
        "output", metavar="OUTPUT", type=Path, help="folder for weights, card and confusion PNG"
    )
    parser.add_argument("--architecture", default="pose_slowonly", choices=architectures(CLASSIFIER))
    parser.add_argument("--epochs", type=positive_int, default=4)
    parser.add_argument("--batch-size", dest="batch_size", type=positive_int, default=8)
    parser.add_argument("--eval-clips", dest="eval_clips", type=positive_int, default=10)
    add_held_out_arguments(parser, "clips")
    parser.add_argument(
        "--validation-data", dest="validation_data", metavar="TABLES", default=None,
        help="fit the score temperature on these tables' clips instead of --validation-fraction of the "
        "training videos (e.g. posebeam synth --split test with another seed: motions the model has not "
        "seen, as on real footage)",
    )  # fmt: skip
    parser.add_argument(
        "--validation-fraction", dest="validation_fraction", type=fraction, default=0.15,
        help="training videos kept apart to fit the temperature that calibrates scores (default: 0.15)",
    )  # fmt: skip
    parser.add_argument(
        "--lr", type=positive_float, default=None,
        help="learning rate (default: the architecture's rate per clip × batch size; pose models "
        "0.4/256 per clip as PYSKL, rgbpose_conv3d 0.0075/48 as pyskl)",
    )  # fmt: skip
    parser.add_argument(
        "--weight-decay", dest="weight_decay", type=positive_float, default=None,
        help="default: 3e-4 for pose models, 1e-4 for rgbpose_conv3d",
    )  # fmt: skip
    spec = parser.add_argument_group("clip spec (saved in the model card; defaults as the papers')")
    spec_flag(spec, "--clip-len", positive_int, "pose models: frames per clip (default: 48)")
    spec_flag(spec, "--train-size", positive_int, "pose models: training heatmap side (default: 56)")
    spec_flag(spec, "--test-size", positive_int, "pose models: test heatmap side (default: 64)")
    spec_flag(spec, "--channels", str, "pose models: heatmap channels (default: joints)",
              choices=("joints", "limbs"))  # fmt: skip
    spec_flag(
        spec, "--sigma", positive_float, "heatmap σ in heatmap pixels (default: 0.6; rgbpose_conv3d 0.7)"
    )
    spec_flag(spec, "--rgb-frames", positive_int, "rgbpose_conv3d: RGB frames per clip (default: 8)")
    spec_flag(spec, "--rgb-size", positive_int, "rgbpose_conv3d: RGB frame side (default: 224)")
    spec_flag(spec, "--pose-frames", positive_int, "rgbpose_conv3d: 4 × RGB frames (default: 32)")
    spec_flag(
        spec, "--pose-scaling", positive_float, "rgbpose_conv3d: heatmap side / RGB side (default: 0.25)"
    )


def run_train(args: argparse.Namespace) -> str:
    from posebeam.training.train_classifier import TrainConfig, train

    config = TrainConfig(
        architecture=args.architecture, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, test_fraction=args.test_fraction,
        validation_fraction=args.validation_fraction, seed=args.seed,
        eval_clips=args.eval_clips,
    )  # fmt: skip
    spec = spec_from_args(architecture(args.architecture).spec, args, SPEC_DESTS, args.architecture)
    card = train(args.data, args.output, config, spec, args.test_data, args.validation_data)
    return f"held-out {json.dumps(card['metrics'])}; weights in {args.output}"


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("weights", metavar="WEIGHTS", help="a .safetensors classifier with its model card")
    parser.add_argument("data", metavar="TABLES", help="folder with keypoints and clip_labels tables")
    parser.add_argument(
        "--clips", type=positive_int, default=10, help="test clips per sample (default: %(default)s)"
    )
    parser.add_argument(
        "--no-flip", dest="flip", action="store_false",
        help="do not average the mirrored views (rgbpose_conv3d never does, as pyskl)",
    )  # fmt: skip
    parser.add_argument("--confusion", type=Path, default=None, help="write the confusion matrix PNG here")


def run_evaluate(args: argparse.Namespace) -> str:
    from posebeam.training.train_classifier import evaluate

    metrics = evaluate(args.weights, args.data, args.clips, args.flip, args.confusion)
    return json.dumps(metrics.summary())
