"""Pipeline options of the ``extract`` job, and their conversion to a frozen stage config."""

from __future__ import annotations

import argparse

from apache_beam.options.pipeline_options import PipelineOptions

from posebeam.models.pose_backend import BACKENDS
from posebeam.pipeline.extract import ExtractConfig

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


class ExtractOptions(PipelineOptions):
    """``--input`` and ``--output`` plus the extract options, for template and module launches."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--input", help="folder, glob or text file of video URIs")
        parser.add_argument("--output", help="output folder for the Parquet tables")
        add_extract_arguments(parser)


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
