"""Pipeline options of the ``extract`` job, and their conversion to a frozen stage config."""

from __future__ import annotations

import argparse
import os

from apache_beam.options.pipeline_options import PipelineOptions

from posebeam.models.pose_backend import BACKENDS
from posebeam.pipeline.clips import ClassifyConfig
from posebeam.pipeline.extract import ExtractConfig
from posebeam.pipeline.inputs import UsageError

DEFAULT_BACKEND = "blazepose"


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def add_extract_arguments(parser: argparse.ArgumentParser) -> None:
    """The posebeam options of ``extract`` (shared by the CLI and :class:`ExtractOptions`)."""
    parser.add_argument(
        "--backend",
        default=DEFAULT_BACKEND,
        choices=sorted(BACKENDS),
        help="top-down pose backend (default: %(default)s)",
    )
    parser.add_argument(
        "--fps",
        type=_positive_float,
        default=None,
        help="sub-sample each video to at most this many frames per second",
    )
    parser.add_argument(
        "--max_side",
        "--max-side",
        dest="max_side",
        type=_positive_int,
        default=None,
        help="resize frames so their longer side is at most this "
        "many pixels before detection (coordinates are mapped back)",
    )
    parser.add_argument(
        "--batch_size",
        "--batch-size",
        dest="batch_size",
        type=_positive_int,
        default=8,
        help="frames per pose-backend call (default: %(default)s)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse the results of videos that an earlier run with the same options finished "
        "(matched by content hash, kept under OUTPUT/_cache)",
    )
    parser.add_argument(
        "--mm_det_config",
        "--mm-det-config",
        dest="mm_det_config",
        default=None,
        help="mm backend: mmdet config file",
    )
    parser.add_argument(
        "--mm_det_checkpoint",
        "--mm-det-checkpoint",
        dest="mm_det_checkpoint",
        default=None,
        help="mm backend: local mmdet checkpoint",
    )
    parser.add_argument(
        "--mm_pose_config",
        "--mm-pose-config",
        dest="mm_pose_config",
        default=None,
        help="mm backend: mmpose top-down config file",
    )
    parser.add_argument(
        "--mm_pose_checkpoint",
        "--mm-pose-checkpoint",
        dest="mm_pose_checkpoint",
        default=None,
        help="mm backend: local mmpose checkpoint",
    )


def add_classifier_arguments(parser: argparse.ArgumentParser, default: str | None) -> None:
    """Options of the ``ClassifyClips`` stage (``posebeam run``)."""
    parser.add_argument(
        "--classifier",
        default=default,
        help="classifier weights (.safetensors with its model card) for clip_predictions: a "
        "skeleton model, or rgbpose_conv3d, which re-reads each clip's frames from the video's "
        "uri; 'none' skips the stage (default: %(default)s)",
    )
    parser.add_argument(
        "--clip_window_s",
        "--clip-window-s",
        dest="clip_window_s",
        type=_positive_float,
        default=3.0,
        help="seconds per classified clip (default: %(default)s)",
    )
    parser.add_argument(
        "--clip_stride_s",
        "--clip-stride-s",
        dest="clip_stride_s",
        type=_positive_float,
        default=1.5,
        help="seconds between clip starts (default: %(default)s)",
    )


def classify_config(options: PipelineOptions) -> ClassifyConfig | None:
    view = options.view_as(ExtractOptions)
    if not view.classifier or view.classifier == "none":
        return None
    if not os.path.isfile(view.classifier):
        raise UsageError(f"classifier weights {view.classifier} do not exist")
    return ClassifyConfig(weights=view.classifier, window_s=view.clip_window_s, stride_s=view.clip_stride_s)


class ExtractOptions(PipelineOptions):
    """``--input`` and ``--output`` plus the extract options, for template and module launches."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--input", help="folder, glob or text file of video URIs")
        parser.add_argument("--output", help="output folder for the Parquet tables")
        add_extract_arguments(parser)
        add_classifier_arguments(parser, default=None)


def extract_config(options: PipelineOptions) -> ExtractConfig:
    """Read the options once into the frozen config the pose stage uses."""
    view = options.view_as(ExtractOptions)
    backend_options: tuple[tuple[str, str], ...] = ()
    if view.backend == "mm":
        backend_options = tuple(
            (key, getattr(view, f"mm_{key}"))
            for key in ("det_config", "det_checkpoint", "pose_config", "pose_checkpoint")
        )
    return ExtractConfig(
        backend=view.backend,
        backend_options=backend_options,
        fps=view.fps,
        max_side=view.max_side,
        batch_size=view.batch_size,
    )
