"""``posebeam synth``'s arguments, checked and turned into the generator's config.

The generator itself (:mod:`posebeam.synth.generate`) takes a :class:`~posebeam.synth.scene.SceneConfig`;
this module is its command-line wiring: flag names, defaults and usage errors.
"""

from __future__ import annotations

import argparse

from posebeam.pipeline.usage import (
    UsageError,
    check_output_folder,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    share,
)
from posebeam.synth.actions import ACTIONS
from posebeam.synth.generate import DEFAULT_DURATION_S, RGB_FOLDER, write_synth
from posebeam.synth.mocap import SPLITS
from posebeam.synth.noise import NoiseConfig
from posebeam.synth.scene import MOTIONS, SceneConfig
from posebeam.synth.timeline import KINDS


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 192x144, got {text}") from None
    if width < 32 or height < 32 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError(f"width and height must be even and at least 32, got {text}")
    return width, height


def add_synth_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``posebeam synth``."""
    parser.description = (
        "Write OUTPUT/videos, OUTPUT/keypoints (as extract writes them) and the label tables "
        "clip_labels, frame_labels_gt and phase_labels for procedurally animated people."
    )
    parser.add_argument("output", metavar="OUTPUT", help="local output folder (a rerun replaces its tables)")
    parser.add_argument(
        "--videos", type=positive_int, default=100, help="videos to generate (default: %(default)s)"
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--kind",
        choices=KINDS,
        default="clips",
        help="clips: one action per person per video (classification); sequences: actions separated by "
        "idle standing (segmentation); repetitions: one action repeated whole (alignment). "
        "Every kind writes all three label tables (default: %(default)s)",
    )
    parser.add_argument(
        "--persons",
        type=positive_int,
        default=1,
        help="each video has 1 to N persons (default: %(default)s)",
    )
    parser.add_argument(
        "--duration",
        type=positive_float,
        default=None,
        help="seconds per video (default: "
        + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_DURATION_S.items())
        + ")",
    )
    parser.add_argument("--fps", type=positive_float, default=15.0, help="frame rate (default: %(default)s)")
    parser.add_argument(
        "--size", type=_size, default=(192, 144), help="frame WIDTHxHEIGHT in pixels (default: 192x144)"
    )
    parser.add_argument(
        "--motion", choices=sorted(MOTIONS), default="procedural",
        help="procedural: the 2D kinematic action model; mocap: real motion capture filmed by virtual "
        "cameras (every kind: sequences separate the captures by stand, repetitions label phases "
        "from foot contacts and hip height) (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--actions", default=None,
        help=f"comma-separated subset of the motion source's actions; procedural: {', '.join(ACTIONS)}; "
        f"mocap: {', '.join(MOTIONS['mocap'])}",
    )  # fmt: skip
    parser.add_argument(
        "--noise",
        type=non_negative_float,
        default=1.0,
        help="scale of every realism knob: camera motion, detector noise, missing joints and frames, "
        "occlusions, track switches; 0 = perfect (default: %(default)s)",
    )
    parser.add_argument(
        "--variation",
        type=non_negative_float,
        default=1.0,
        help="scale of the person-to-person variation of speed, amplitude, timing, joint offsets "
        "and body size (default: %(default)s)",
    )
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default="all",
        help="mocap: which captures people perform; train leaves out one capture of every class that "
        "has several, test uses only those (the other classes replay their single capture), "
        "so a model trained on train and scored on test meets unseen captures (default: %(default)s)",
    )
    parser.add_argument(
        "--carrying",
        type=share,
        default=0.0,
        help="mocap: the share of persons who hold a forearm up while walking and standing (carrying "
        "something, a phone, a hand at the face) (default: %(default)s)",
    )
    parser.add_argument(
        "--render", action="store_true", help=f"also write OUTPUT/{RGB_FOLDER}/<video_id>.mp4"
    )


def scene_config(args: argparse.Namespace) -> SceneConfig:
    """The generator's config from parsed arguments; raises :class:`UsageError` on bad values."""
    known = MOTIONS[args.motion]
    actions = tuple(a.strip() for a in args.actions.split(",") if a.strip()) if args.actions else known
    unknown = sorted(set(actions) - set(known))
    if unknown or not actions:
        raise UsageError(f"unknown actions {', '.join(unknown) or '(none)'}; known: {', '.join(known)}")
    if args.split != "all" and args.motion != "mocap":
        raise UsageError(f"--split {args.split} needs --motion mocap")
    if args.carrying and args.motion != "mocap":
        raise UsageError("--carrying needs --motion mocap")
    width, height = args.size
    return SceneConfig(
        kind=args.kind,
        duration_s=args.duration or DEFAULT_DURATION_S[args.kind],
        fps=args.fps,
        width=width,
        height=height,
        max_persons=args.persons,
        actions=actions,
        noise=NoiseConfig().scaled(args.noise),
        variation=args.variation,
        motion=args.motion,
        split=args.split,
        carrying=args.carrying,
    )


def run_synth(args: argparse.Namespace) -> str:
    """Check the arguments, generate and write everything; returns a one-line summary."""
    config = scene_config(args)
    if "://" in args.output:
        raise UsageError(f"synth writes local folders only, got {args.output}")
    check_output_folder(args.output)
    return write_synth(args.output, args.videos, args.seed, config, args.render)
