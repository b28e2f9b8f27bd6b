"""``posebeam synth``: procedural training and evaluation data in the tables ``extract`` writes.

    posebeam synth OUTPUT [--videos N] [--seed S] [--kind clips|sequences|repetitions]
                          [--persons N] [--duration S] [--fps F] [--size WxH] [--actions a,b]
                          [--noise L] [--variation L] [--render]

Writes ``OUTPUT/videos`` and ``OUTPUT/keypoints`` with the schemas of ``extract`` (backend
``synth``), and the label tables of :mod:`posebeam.schemas.labels`: ``clip_labels``,
``frame_labels_gt`` and ``phase_labels``, each a folder with one zstd ``part-00000.parquet``,
staged and then swapped in as ``extract`` publishes its tables (a rerun replaces them). With
``--render`` it also writes ``OUTPUT/videos_rgb/<video_id>.mp4`` (MPEG-4 part 2) and the ``videos``
table's ``uri`` names that file; otherwise the uri is ``synth://<seed>/<index>``. The same arguments
always give the same bytes. Local output folders only.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import uuid
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from posebeam.pipeline.inputs import UsageError
from posebeam.pipeline.options import _positive_float, _positive_int
from posebeam.pipeline.tables import publish_tables, staging_dir
from posebeam.schemas.labels import LABEL_TABLES, label_table
from posebeam.schemas.records import keypoints_table, video_row
from posebeam.schemas.tables import KEYPOINTS, VIDEOS
from posebeam.transforms.synth_actions import ACTIONS
from posebeam.transforms.synth_noise import NoiseConfig
from posebeam.transforms.synth_scene import (
    SceneConfig,
    SynthVideo,
    keypoint_columns,
    label_columns,
    synthesise,
)
from posebeam.transforms.synth_timeline import KINDS

log = logging.getLogger(__name__)

BACKEND = "synth"
GENERATOR_VERSION = "1"
"""Bumped whenever the same seed starts giving different data."""
DEFAULT_DURATION_S = {"clips": 3.0, "sequences": 30.0, "repetitions": 12.0}
RGB_FOLDER = "videos_rgb"
CODEC = "mpeg4"


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


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
    parser.add_argument("output", metavar="OUTPUT", help="local output folder (a rerun replaces its tables)")
    parser.add_argument(
        "--videos", type=_positive_int, default=100, help="videos to generate (default: %(default)s)"
    )
    parser.add_argument(
        "--seed", type=_non_negative_int, default=0, help="random seed (default: %(default)s)"
    )
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
        type=_positive_int,
        default=1,
        help="each video has 1 to N persons (default: %(default)s)",
    )
    parser.add_argument(
        "--duration",
        type=_positive_float,
        default=None,
        help="seconds per video (default: "
        + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_DURATION_S.items())
        + ")",
    )
    parser.add_argument("--fps", type=_positive_float, default=15.0, help="frame rate (default: %(default)s)")
    parser.add_argument(
        "--size", type=_size, default=(192, 144), help="frame WIDTHxHEIGHT in pixels (default: 192x144)"
    )
    parser.add_argument("--actions", default=None, help=f"comma-separated subset of: {', '.join(ACTIONS)}")
    parser.add_argument(
        "--noise",
        type=_non_negative_float,
        default=1.0,
        help="scale of every realism knob: camera motion, detector noise, missing joints and frames, "
        "occlusions, track switches; 0 = perfect (default: %(default)s)",
    )
    parser.add_argument(
        "--variation",
        type=_non_negative_float,
        default=1.0,
        help="scale of the person-to-person variation of speed, amplitude, timing, joint offsets "
        "and body size (default: %(default)s)",
    )
    parser.add_argument(
        "--render", action="store_true", help=f"also write OUTPUT/{RGB_FOLDER}/<video_id>.mp4"
    )


def scene_config(args: argparse.Namespace) -> SceneConfig:
    """The generator's config from parsed arguments; raises :class:`UsageError` on bad values."""
    actions = (
        tuple(a.strip() for a in args.actions.split(",") if a.strip()) if args.actions else tuple(ACTIONS)
    )
    unknown = sorted(set(actions) - set(ACTIONS))
    if unknown or not actions:
        raise UsageError(f"unknown actions {', '.join(unknown) or '(none)'}; known: {', '.join(ACTIONS)}")
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
    )


def _staging(output: str) -> Path:
    """A fresh staging folder under the local ``output`` (tables are published from it at the end)."""
    if "://" in output:
        raise UsageError(f"synth writes local folders only, got {output}")
    staging = Path(staging_dir(output, f"synth-{uuid.uuid4().hex[:12]}"))
    try:
        staging.mkdir(parents=True)
    except OSError as err:
        raise UsageError(f"cannot create output folder {output}: {err.strerror or err}") from None
    return staging


def write_mp4(path: Path, frames: Iterable[np.ndarray], fps: float, width: int, height: int) -> None:
    """Encode RGB ``(H, W, 3)`` uint8 frames as MPEG-4 part 2 in an MP4 file, single-threaded
    (bit-exact from run to run)."""
    import av
    from av.video.stream import VideoStream

    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w") as container:
        stream = cast(VideoStream, container.add_stream(CODEC, rate=rate))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = 12
        stream.codec_context.thread_count = 1
        stream.options = {"qscale": "4"}
        stream.time_base = 1 / rate
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def _video_tables(
    video: SynthVideo, uri: str, rendered: bool
) -> tuple[pa.Table, dict[str, Any], dict[str, pa.Table]]:
    cfg = video.config
    columns = keypoint_columns(video)
    keypoints = keypoints_table(video.video_id, **columns)
    row = video_row(
        video_id=video.video_id,
        uri=uri,
        duration_s=video.num_frames / cfg.fps,
        fps=cfg.fps,
        width=cfg.width,
        height=cfg.height,
        codec=CODEC if rendered else None,
        rotation_deg=0,
        frames_decoded=video.num_frames,
        frames_processed=video.num_frames,
        packets_skipped=0,
        backend=BACKEND,
        backend_version=GENERATOR_VERSION,
        persons_found=len(np.unique(columns["person_id"])),
        person_frames=len(columns["person_id"]),
    )
    labels = {
        name: label_table(LABEL_TABLES[name], video.video_id, **cols)
        for name, cols in label_columns(video).items()
    }
    return keypoints, row, labels


def write_table(root: Path, name: str, table: pa.Table) -> Path:
    """``root/name/part-00000.parquet``, zstd, with the schema's posebeam metadata."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "part-00000.parquet"
    pq.write_table(table, path, compression="zstd")
    return path


def run_synth(args: argparse.Namespace) -> str:
    """Generate and write everything; returns a one-line summary."""
    from posebeam.transforms.synth_render import render_frames

    config = scene_config(args)
    root = _staging(args.output)
    if args.render:
        (root / RGB_FOLDER).mkdir()
    started = time.monotonic()
    keypoints, rows = [], []
    labels: dict[str, list[pa.Table]] = {name: [] for name in LABEL_TABLES}
    for index in range(args.videos):
        video = synthesise(args.seed, index, config)
        uri = f"synth://{args.seed}/{index}"
        if args.render:
            path = root / RGB_FOLDER / f"{video.video_id}.mp4"
            write_mp4(path, render_frames(video), config.fps, config.width, config.height)
            uri = os.path.abspath(os.path.join(args.output, RGB_FOLDER, path.name))
        table, row, label_tables = _video_tables(video, uri, args.render)
        keypoints.append(table)
        rows.append(row)
        for name, label in label_tables.items():
            labels[name].append(label)
        if (index + 1) % max(1, args.videos // 10) == 0:
            log.info("synth: %d/%d videos", index + 1, args.videos)
    write_table(root, "videos", pa.Table.from_pylist(rows, schema=VIDEOS))
    write_table(root, "keypoints", pa.concat_tables(keypoints) if keypoints else KEYPOINTS.empty_table())
    for name, parts in labels.items():
        write_table(root, name, pa.concat_tables(parts))
    tables = ["videos", "keypoints", *LABEL_TABLES] + ([RGB_FOLDER] if args.render else [])
    publish_tables(args.output, root.name, tables)
    person_frames = sum(r["person_frames"] for r in rows)
    clips = sum(len(t) for t in labels["clip_labels"])
    return (
        f"{args.videos} {config.kind} videos, {person_frames} person-frames, {clips} clip labels "
        f"in {time.monotonic() - started:.1f} s; tables in {args.output}"
    )
