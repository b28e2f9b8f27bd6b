"""The options of the ``extract`` and ``run`` jobs: parsed once, converted once into frozen configs.

The CLI (``posebeam extract|run INPUT OUTPUT``) and module launches (``python -m
posebeam.pipeline.run --input … --output …``, e.g. a Flex template) define the same flags here;
whatever the parser does not know is left untouched for Beam's ``PipelineOptions``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from posebeam.models.pose_backend import BACKENDS
from posebeam.pipeline.clips import ClassifyConfig
from posebeam.pipeline.pose_stage import ExtractConfig
from posebeam.pipeline.usage import (
    UsageError,
    bigquery_dataset,
    frame_side,
    non_negative_float,
    positive_float,
    positive_int,
)

if TYPE_CHECKING:  # the model stages import torch: only a job that runs one loads them
    from posebeam.pipeline.embed import EmbedConfig
    from posebeam.pipeline.segment import SegmentConfig

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
        "--window_s", "--window-s", dest="window_s", type=non_negative_float, default=60.0,
        help="cut videos of two windows or more into windows of this many seconds that run as separate "
        "work items (each decodes from the keyframe before its start, with an overlap for tracking; "
        "tracks are stitched across windows); 0 keeps every video in one piece (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--resume", action="store_true",
        help="reuse the results of videos that an earlier run with the same options finished "
        "(matched by content hash, kept under OUTPUT/_cache)",
    )  # fmt: skip
    parser.add_argument(
        "--bigquery_dataset", "--bigquery-dataset", dest="bigquery_dataset", type=bigquery_dataset,
        default=None, metavar="PROJECT:DATASET",
        help="also load every table into this BigQuery dataset (file loads; each table replaced by the "
        "run's rows, as the Parquet tables are)",
    )  # fmt: skip
    parser.add_argument(
        "--detach", action="store_true",
        help="submit the job to a remote runner (e.g. Dataflow) and return without waiting for it; "
        "its counters are then in the runner's console",
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
        help="'shipped' (the packaged Pose-SlowOnly), or classifier weights (.safetensors with its model "
        "card beside it; local, or gs:// for remote runners) for clip_predictions: a skeleton model, or "
        "rgbpose_conv3d, which re-reads each clip's frames from the video's uri; 'none' skips the stage "
        "(default: %(default)s)",
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
        help="'shipped' (the packaged heatmap MS-TCN++), or segmenter weights (.safetensors with its "
        "model card beside it; local, or gs:// for remote runners) for frame_labels and segments; 'none' "
        "skips the stage (default: %(default)s)",
    )  # fmt: skip


def add_aligner_arguments(parser: argparse.ArgumentParser, default: str | None) -> None:
    """Options of the ``EmbedForAlignment`` stage (``posebeam run``)."""
    parser.add_argument(
        "--aligner", default=default,
        help="'shipped' (the packaged preview aligner, docs/method.md §7), or aligner weights "
        "(.safetensors with its model card beside it; local, or gs:// for remote runners) for the "
        "embeddings table; 'none' skips the stage (default: %(default)s)",
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


def boolean_values(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--flag=true`` as ``--flag`` and ``--flag=false`` dropped, for ``parser``'s
    on/off options (``store_true``), which take no value on a command line."""
    flags = {
        option for action in parser._actions if isinstance(action, argparse._StoreTrueAction)
        for option in action.option_strings
    }  # fmt: skip
    out = []
    for arg in argv:
        name, equals, value = arg.partition("=")
        if equals and name in flags:
            if value.lower() not in ("true", "false"):
                raise UsageError(f"{name} takes true or false, got {value!r}")
            if value.lower() == "true":
                out.append(name)
            continue
        out.append(arg)
    return out


@dataclass(frozen=True)
class JobConfig:
    """Everything a job needs besides Beam's own options."""

    input: str
    output: str
    extract: ExtractConfig
    classify: ClassifyConfig | None
    segment: SegmentConfig | None = None
    embed: EmbedConfig | None = None
    detach: bool = False
    bigquery_dataset: str | None = None

    def model_stages(self) -> list[tuple[str, ClassifyConfig | SegmentConfig | EmbedConfig]]:
        """``(role, config)`` of each model stage the job runs."""
        stages = {"classifier": self.classify, "segmenter": self.segment, "aligner": self.embed}
        return [(role, stage) for role, stage in stages.items() if stage is not None]


def check_model(value: str | None, role: str) -> str | None:
    """The weights reference of a model stage (:mod:`~posebeam.pipeline.model_weights`), or None when
    ``value`` is None or 'none' (the stage is skipped). The checkpoint is opened and verified on the
    launcher, before any worker starts (hash, card, architecture and tensor shapes); any problem is
    a one-line :class:`UsageError`."""
    from posebeam.models.aligner import load_aligner
    from posebeam.models.checkpoints import UnsafeCheckpoint, verify_checkpoint
    from posebeam.models.classifier import load_classifier
    from posebeam.models.segment_track import load_segmenter
    from posebeam.pipeline.embed import table_spec
    from posebeam.pipeline.model_weights import local_weights, weights_reference

    reference = weights_reference(role, value)
    if reference is None:
        return None
    try:
        weights = local_weights(reference)
    except (OSError, ValueError) as err:
        raise UsageError(f"{role} weights {reference}: {err}") from None
    if not os.path.isfile(weights):
        raise UsageError(f"{role} weights {reference} do not exist")
    loaders = {"classifier": load_classifier, "segmenter": load_segmenter, "aligner": load_aligner}
    try:
        loaders[role](weights)
    except UnsafeCheckpoint as err:
        raise UsageError(f"refusing the {role}: {err}") from None
    except (KeyError, RuntimeError, TypeError, ValueError) as err:  # unknown architecture, shapes
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UsageError(f"the {role} {reference} does not match its model card: {reason}") from None
    if role == "aligner":
        try:
            table_spec(verify_checkpoint(weights), reference)
        except ValueError as err:
            raise UsageError(str(err)) from None
    return reference


def _classify_config(args: argparse.Namespace) -> ClassifyConfig | None:
    weights = check_model(getattr(args, "classifier", None), "classifier")  # ``extract``: no models
    if weights is None:
        return None
    return ClassifyConfig(weights=weights, window_s=args.clip_window_s, stride_s=args.clip_stride_s)


def _segment_config(args: argparse.Namespace) -> SegmentConfig | None:
    from posebeam.pipeline.segment import SegmentConfig

    weights = check_model(getattr(args, "segmenter", None), "segmenter")
    return None if weights is None else SegmentConfig(weights=weights)


def _embed_config(args: argparse.Namespace) -> EmbedConfig | None:
    from posebeam.pipeline.embed import EmbedConfig

    weights = check_model(getattr(args, "aligner", None), "aligner")
    return None if weights is None else EmbedConfig(weights=weights)


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
        window_s=args.window_s or None,
        resume=args.resume,
    )
    return JobConfig(
        args.input, args.output, extract, _classify_config(args), _segment_config(args), _embed_config(args),
        detach=args.detach, bigquery_dataset=args.bigquery_dataset,
    )  # fmt: skip
