"""The options of the ``extract`` and ``run`` jobs: parsed once, converted once into frozen configs.

The CLI (``posebeam extract|run INPUT OUTPUT``) and module launches (``python -m
posebeam.pipeline.run --input … --output …``, e.g. a Flex template) define the same flags here;
whatever the parser does not know is left untouched for Beam's ``PipelineOptions``.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import TypeGuard

from posebeam.models.pose_backend import BACKENDS
from posebeam.pipeline.clips import ClassifyConfig
from posebeam.pipeline.embed import EmbedConfig, table_spec
from posebeam.pipeline.pose_stage import ExtractConfig
from posebeam.pipeline.segment import SegmentConfig
from posebeam.pipeline.usage import UsageError, frame_side, positive_float, positive_int

DEFAULT_BACKEND = "movenet"


def add_extract_arguments(parser: argparse.ArgumentParser) -> None:
    """The pose-stage options of ``extract`` and ``run``."""
    parser.add_argument(
        "--backend", default=DEFAULT_BACKEND, choices=sorted(BACKENDS),
        help="top-down pose backend (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--fps", type=positive_float, default=None,
        help="sub-sample each video to at most this many frames per second",
    )  # fmt: skip
    parser.add_argument(
        "--max_side", "--max-side", dest="max_side", type=frame_side, default=None,
        help="resize frames so their longer side is at most this many pixels before detection "
        "(coordinates are mapped back)",
    )  # fmt: skip
    parser.add_argument(
        "--batch_size", "--batch-size", dest="batch_size", type=positive_int, default=8,
        help="frames per pose-backend call (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--resume", action="store_true",
        help="reuse the results of videos that an earlier run with the same options finished "
        "(matched by content hash, kept under OUTPUT/_cache)",
    )  # fmt: skip
    mm = parser.add_argument_group("mm backend")
    mm.add_argument("--mm_det_config", "--mm-det-config", dest="mm_det_config", help="mmdet config file")
    mm.add_argument(
        "--mm_det_checkpoint", "--mm-det-checkpoint", dest="mm_det_checkpoint", help="local mmdet checkpoint"
    )
    mm.add_argument(
        "--mm_pose_config", "--mm-pose-config", dest="mm_pose_config", help="mmpose top-down config file"
    )
    mm.add_argument(
        "--mm_pose_checkpoint", "--mm-pose-checkpoint", dest="mm_pose_checkpoint",
        help="local mmpose checkpoint",
    )  # fmt: skip


def add_classifier_arguments(parser: argparse.ArgumentParser, default: str | None) -> None:
    """Options of the ``ClassifyClips`` stage (``posebeam run``)."""
    parser.add_argument(
        "--classifier", default=default,
        help="classifier weights (.safetensors with its model card) for clip_predictions: a "
        "skeleton model, or rgbpose_conv3d, which re-reads each clip's frames from the video's "
        "uri; 'none' skips the stage (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--clip_window_s", "--clip-window-s", dest="clip_window_s", type=positive_float, default=3.0,
        help="seconds per classified clip (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--clip_stride_s", "--clip-stride-s", dest="clip_stride_s", type=positive_float, default=1.5,
        help="seconds between clip starts (default: %(default)s)",
    )  # fmt: skip


def add_segmenter_arguments(parser: argparse.ArgumentParser, default: str | None) -> None:
    """Options of the ``SegmentActions`` stage (``posebeam run``)."""
    parser.add_argument(
        "--segmenter", default=default,
        help="segmenter weights (.safetensors with its model card) for frame_labels and segments; "
        "'none' skips the stage (default: %(default)s)",
    )  # fmt: skip


def add_aligner_arguments(parser: argparse.ArgumentParser, default: str | None) -> None:
    """Options of the ``EmbedForAlignment`` stage (``posebeam run``)."""
    parser.add_argument(
        "--aligner", default=default,
        help="aligner weights (.safetensors with its model card) for the embeddings table, or 'shipped' "
        "for the packaged preview aligner (docs/method.md §7); 'none' skips the stage (default: %(default)s)",
    )  # fmt: skip


def module_parser() -> argparse.ArgumentParser:
    """``--input`` and ``--output`` plus every job option, for module and Flex-template launches
    (no model stage unless ``--classifier``, ``--segmenter`` or ``--aligner`` names one)."""
    parser = argparse.ArgumentParser(prog="python -m posebeam.pipeline.run")
    parser.add_argument("--input", required=True, help="folder, glob or text file of video URIs")
    parser.add_argument("--output", required=True, help="output folder for the Parquet tables")
    add_extract_arguments(parser)
    add_classifier_arguments(parser, default=None)
    add_segmenter_arguments(parser, default=None)
    add_aligner_arguments(parser, default=None)
    return parser


@dataclass(frozen=True)
class JobConfig:
    """Everything a job needs besides Beam's own options."""

    input: str
    output: str
    extract: ExtractConfig
    classify: ClassifyConfig | None
    segment: SegmentConfig | None = None
    embed: EmbedConfig | None = None


def check_model(weights: str | None, role: str) -> TypeGuard[str]:
    """Whether a model stage runs: ``weights`` None or 'none' skips it. Otherwise the checkpoint is
    opened and verified on the launcher, before any worker starts (hash, card, architecture and
    tensor shapes); any problem is a one-line :class:`UsageError`."""
    from posebeam.models.aligner import load_aligner
    from posebeam.models.checkpoints import UnsafeCheckpoint, verify_checkpoint
    from posebeam.models.classifier import load_classifier
    from posebeam.models.segment_track import load_segmenter

    if not weights or weights == "none":
        return False
    if not os.path.isfile(weights):
        raise UsageError(f"{role} weights {weights} do not exist")
    loaders = {"classifier": load_classifier, "segmenter": load_segmenter, "aligner": load_aligner}
    try:
        loaders[role](weights)
    except UnsafeCheckpoint as err:
        raise UsageError(f"refusing the {role}: {err}") from None
    except (KeyError, RuntimeError, TypeError, ValueError) as err:  # unknown architecture, shapes
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UsageError(f"the {role} {weights} does not match its model card: {reason}") from None
    if role == "aligner":
        try:
            table_spec(verify_checkpoint(weights), weights)
        except ValueError as err:
            raise UsageError(str(err)) from None
    return True


def _classify_config(args: argparse.Namespace) -> ClassifyConfig | None:
    weights = getattr(args, "classifier", None)  # ``extract`` has no model stages
    if not check_model(weights, "classifier"):
        return None
    return ClassifyConfig(weights=weights, window_s=args.clip_window_s, stride_s=args.clip_stride_s)


def _segment_config(args: argparse.Namespace) -> SegmentConfig | None:
    weights = getattr(args, "segmenter", None)
    return SegmentConfig(weights=weights) if check_model(weights, "segmenter") else None


def _embed_config(args: argparse.Namespace) -> EmbedConfig | None:
    from posebeam.models.aligner import SHIPPED_ALIGNER

    weights = getattr(args, "aligner", None)
    weights = str(SHIPPED_ALIGNER) if weights == "shipped" else weights
    return EmbedConfig(weights=weights) if check_model(weights, "aligner") else None


def job_config(args: argparse.Namespace) -> JobConfig:
    """Convert parsed arguments, once, into the frozen configs the stages use."""
    backend_options: tuple[tuple[str, str], ...] = ()
    if args.backend == "mm":
        backend_options = (
            ("det_config", args.mm_det_config),
            ("det_checkpoint", args.mm_det_checkpoint),
            ("pose_config", args.mm_pose_config),
            ("pose_checkpoint", args.mm_pose_checkpoint),
        )
    extract = ExtractConfig(
        backend=args.backend,
        backend_options=backend_options,
        fps=args.fps,
        max_side=args.max_side,
        batch_size=args.batch_size,
        resume=args.resume,
    )
    return JobConfig(
        args.input, args.output, extract, _classify_config(args), _segment_config(args), _embed_config(args)
    )
