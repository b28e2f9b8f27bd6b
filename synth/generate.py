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

from posebeam.schemas.labels import LABEL_TABLES, label_table
from posebeam.schemas.records import keypoints_table, video_row
from posebeam.schemas.tables import KEYPOINT_ROWS, VIDEOS
from posebeam.storage.parquet_tables import publish_tables, staging_dir, write_parquet
from posebeam.synth.scene import (
    SceneConfig,
    SynthVideo,
    keypoint_columns,
    label_columns,
    synthesise,
)

log = logging.getLogger(__name__)

BACKEND = "synth"
GENERATOR_VERSION = "1"
"""Bumped whenever the same seed starts giving different data."""
DEFAULT_DURATION_S = {"clips": 3.0, "sequences": 30.0, "repetitions": 12.0}
RGB_FOLDER = "videos_rgb"
CODEC = "mpeg4"


def _staging(output: str) -> Path:
    """A fresh staging folder under the local ``output`` (tables are published from it at the end)."""
    staging = Path(staging_dir(output, f"synth-{uuid.uuid4().hex[:12]}"))
    staging.mkdir(parents=True)
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
    keypoints = keypoints_table(video.video_id, **columns, width=cfg.width, height=cfg.height)
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
    write_parquet(name, table, str(path))
    return path


def write_synth(output: str, videos: int, seed: int, config: SceneConfig, render: bool) -> str:
    """Generate ``videos`` videos from ``seed`` and publish their tables under the local folder
    ``output``; returns a one-line summary."""
    from posebeam.synth.mocap_scene import synthesise_mocap
    from posebeam.synth.render import render_frames

    root = _staging(output)
    if render:
        (root / RGB_FOLDER).mkdir()
    started = time.monotonic()
    keypoints, rows = [], []
    labels: dict[str, list[pa.Table]] = {name: [] for name in LABEL_TABLES}
    for index in range(videos):
        video = (
            synthesise_mocap(seed, index, config)
            if config.motion == "mocap"
            else synthesise(seed, index, config)
        )
        uri = f"synth://{seed}/{index}"
        if render:
            path = root / RGB_FOLDER / f"{video.video_id}.mp4"
            write_mp4(path, render_frames(video), config.fps, config.width, config.height)
            uri = os.path.abspath(os.path.join(output, RGB_FOLDER, path.name))
        table, row, label_tables = _video_tables(video, uri, render)
        keypoints.append(table)
        rows.append(row)
        for name, label in label_tables.items():
            labels[name].append(label)
        if (index + 1) % max(1, videos // 10) == 0:
            log.info("synth: %d/%d videos", index + 1, videos)
    write_table(root, "videos", pa.Table.from_pylist(rows, schema=VIDEOS))
    write_table(root, "keypoints", pa.concat_tables(keypoints) if keypoints else KEYPOINT_ROWS.empty_table())
    for name, parts in labels.items():
        write_table(root, name, pa.concat_tables(parts))
    tables = ["videos", "keypoints", *LABEL_TABLES] + ([RGB_FOLDER] if render else [])
    publish_tables(output, root.name, tables)
    person_frames = sum(r["person_frames"] for r in rows)
    clips = sum(len(t) for t in labels["clip_labels"])
    return (
        f"{videos} {config.kind} videos, {person_frames} person-frames, {clips} clip labels "
        f"in {time.monotonic() - started:.1f} s; tables in {output}"
    )
