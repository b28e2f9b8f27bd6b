"""The ``posebeam`` command line.

    posebeam extract INPUT OUTPUT [options] [-- beam options]
    posebeam run INPUT OUTPUT [options] [-- beam options]
    posebeam synth OUTPUT [options]
    posebeam train classifier TABLES OUTPUT [options]
    posebeam train segmenter TABLES OUTPUT [options]
    posebeam train aligner TABLES OUTPUT [options]
    posebeam evaluate classifier WEIGHTS TABLES [--clips 10] [--confusion PNG]
    posebeam evaluate segmenter WEIGHTS TABLES [--json]
    posebeam evaluate aligner WEIGHTS TABLES [--json]
    posebeam align OUTPUT VIDEO_A VIDEO_B [--person-a ID] [--person-b ID] -o FILE.png
    posebeam render OUTPUT VIDEO -o FILE.mp4
    posebeam inspect OUTPUT [--json]
    posebeam report OUTPUT [-o FILE.html]
    posebeam sample FOLDER

Usage errors print one line and exit 2; a failed job prints one line and exits 1 (``--verbose``
shows the traceback). Broken *videos* are not errors: they go to the ``failures`` table.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import NoReturn

from posebeam.models.allocator import keep_freed_memory
from posebeam.models.pose_backend import BackendUnavailable
from posebeam.pipeline.isolation import NATIVE_LOGS_ENV
from posebeam.pipeline.options import (
    add_aligner_arguments,
    add_classifier_arguments,
    add_extract_arguments,
    add_segmenter_arguments,
)
from posebeam.pipeline.usage import UsageError

EXIT_USAGE = 2
EXIT_FAILED = 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


LAZY_COMMANDS: dict[tuple[str, str], tuple[str, str, str, str]] = {
    ("train", "classifier"): (
        "a PoseC3D or RGBPose-Conv3D action classifier on clip_labels",
        "train_command", "add_train_arguments", "run_train",
    ),
    ("train", "segmenter"): (
        "an action segmenter (per-frame heatmap CNN + MS-TCN++) on frame_labels_gt",
        "segment_command", "add_train_segmenter_arguments", "run_train_segmenter",
    ),
    ("train", "aligner"): (
        "a temporal aligner (space-time transformer on heatmaps), self-supervised on keypoints",
        "align_command", "add_train_aligner_arguments", "run_train_aligner",
    ),
    ("evaluate", "classifier"): (
        "top-1/top-5 with multi-clip x flip averaging",
        "train_command", "add_evaluate_arguments", "run_evaluate",
    ),
    ("evaluate", "segmenter"): (
        "frame accuracy, edit and F1@{10,25,50} of the model and the per-frame baseline",
        "segment_command", "add_evaluate_segmenter_arguments", "run_evaluate_segmenter",
    ),
    ("evaluate", "aligner"): (
        "phase classification, progression, Kendall's tau and AP@k of the aligner and a baseline",
        "align_command", "add_evaluate_aligner_arguments", "run_evaluate_aligner",
    ),
    ("", "synth"): (
        "generate synthetic keypoint videos with action, segment and phase labels",
        "synth_command", "add_synth_arguments", "run_synth",
    ),
    ("", "align"): (
        "match the frames of two tracked persons by DTW over their embeddings and keypoints (table + PNG)",
        "align_videos", "add_align_arguments", "run_align",
    ),
    ("", "render"): (
        "the video with skeletons, boxes, person ids and labels drawn on it (.mp4)",
        "render_command", "add_render_arguments", "run_render",
    ),
    ("", "inspect"): (
        "what a run wrote: tables, videos and persons, failures by stage, label histograms",
        "inspect_command", "add_inspect_arguments", "run_inspect",
    ),
    ("", "report"): (
        "one static HTML page: run summary, failures, per video a thumbnail and a timeline",
        "report_command", "add_report_arguments", "run_report",
    ),
}  # fmt: skip
"""``(group, command)`` → ``(help, module under posebeam.pipeline, arguments function, handler)``.
A command's module (several import torch, scipy or matplotlib) is imported only when that command
runs, so ``posebeam extract``, ``inspect`` or ``--help`` start in a second or two, not six."""


def _chosen_command(argv: Sequence[str]) -> list[str]:
    """The command words of ``argv`` (``["train", "aligner"]``, ``["inspect", ...]``): its words
    that are not options (the top level has only flags, so the first is the command)."""
    return [word for word in argv if not word.startswith("-")][:2]


def _parser(chosen: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command line; with ``chosen`` (:func:`_chosen_command`), only that command's module is
    imported and its arguments defined; without, every command's (the whole interface)."""
    parser = _Parser(prog="posebeam", description="Annotate video archives with human pose, on Apache Beam.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    extract = commands.add_parser(
        "extract",
        help="decode videos, estimate and track poses, write Parquet tables",
        description="Decode every video of INPUT, run top-down pose estimation, track persons and "
        "write OUTPUT/videos, OUTPUT/keypoints and OUTPUT/failures as zstd Parquet. Runs locally on "
        "Beam's in-process FnApiRunner unless a --runner is given after `--`, e.g. "
        "`-- --runner DataflowRunner --project P --region R --temp_location gs://...`.",
    )
    extract.add_argument(
        "input", metavar="INPUT", help="folder, glob, or text file of video URIs (local or gs://)"
    )
    extract.add_argument("output", metavar="OUTPUT", help="output folder (local or gs://)")
    add_extract_arguments(extract)
    run = commands.add_parser(
        "run",
        help="the full pipeline: extract, then the trained models (shipped ones by default)",
        description="Everything extract does, then ClassifyClips writes OUTPUT/clip_predictions with "
        "the shipped Pose-SlowOnly (or --classifier WEIGHTS; 'none' skips it) and SegmentActions "
        "writes OUTPUT/frame_labels and OUTPUT/segments with the shipped heatmap MS-TCN++ segmenter "
        "(or --segmenter WEIGHTS; 'none' skips it), and EmbedForAlignment writes OUTPUT/embeddings with "
        "the shipped preview aligner (or --aligner WEIGHTS; 'none' skips it).",
    )
    run.add_argument(
        "input", metavar="INPUT", help="folder, glob, or text file of video URIs (local or gs://)"
    )
    run.add_argument("output", metavar="OUTPUT", help="output folder (local or gs://)")
    add_extract_arguments(run)
    add_classifier_arguments(run, default="shipped")
    add_segmenter_arguments(run, default="shipped")
    add_aligner_arguments(run, default="shipped")
    train = commands.add_parser("train", help="train a model on keypoint and label tables")
    train_kinds = train.add_subparsers(dest="model", required=True, parser_class=_Parser)
    evaluate = commands.add_parser("evaluate", help="evaluate a trained model on labelled tables")
    evaluate_kinds = evaluate.add_subparsers(dest="model", required=True, parser_class=_Parser)
    groups = {"train": train_kinds, "evaluate": evaluate_kinds, "": commands}
    for (group, name), (help_text, module, adder, handler) in LAZY_COMMANDS.items():
        command = groups[group].add_parser(name, help=help_text)
        words = [group, name] if group else [name]
        if chosen is None or list(chosen[: len(words)]) == words:
            loaded = importlib.import_module(f"posebeam.pipeline.{module}")
            getattr(loaded, adder)(command)
            command.set_defaults(run=getattr(loaded, handler))
    sample = commands.add_parser("sample", help="download the sample street clip (vtest.avi) into FOLDER")
    sample.add_argument("folder", metavar="FOLDER")
    sample.set_defaults(run=_sample)
    return parser


def _extract(args: argparse.Namespace, beam_args: list[str]) -> None:
    from posebeam.pipeline.options import job_config
    from posebeam.pipeline.run import report, run

    job = job_config(args)
    start = time.monotonic()
    result = run(job, beam_args)
    print(f"posebeam: {report(result, job, beam_args, time.monotonic() - start)}")


def _sample(args: argparse.Namespace) -> None:
    from posebeam.storage.sample import fetch_sample

    print(fetch_sample(args.folder))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    beam_args: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, beam_args = argv[:split], argv[split + 1 :]
    args = _parser(_chosen_command(argv)).parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.verbose:
        os.environ[NATIVE_LOGS_ENV] = "1"
    else:  # Beam's own warnings (e.g. about its worker set-up) are for --verbose
        logging.getLogger("apache_beam").setLevel(logging.ERROR)
    if args.command in ("run", "train", "evaluate"):
        keep_freed_memory()  # torch model stages: see models/allocator.py
    try:
        if args.command in ("extract", "run"):
            _extract(args, beam_args)
        else:
            message = args.run(args)  # None: the command printed its own output (e.g. --json)
            if message is not None:
                print(f"posebeam: {message}")
    except (UsageError, BackendUnavailable) as err:
        print(f"posebeam: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:
        if args.verbose:
            raise
        reason = f"{type(err).__name__}: {err}".splitlines()[0]
        print(
            f"posebeam: {args.command} failed: {reason} (rerun with --verbose for details)", file=sys.stderr
        )
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
