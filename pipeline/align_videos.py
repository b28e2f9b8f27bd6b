"""``posebeam align OUTPUT VIDEO_A VIDEO_B -o FILE.png``: the frame-to-frame correspondence of two
tracked persons by dynamic time warping over their ``embeddings`` rows, beside their keypoints.

As LAV's ``visualize_alignment.py`` (github.com/trquhuytin/LAV-CVPR21), with each track's
embeddings z-normalised first and its hip-centred keypoints beside them with equal weight
(:func:`~posebeam.models.alignment.alignment_features`; ``--keypoint-weight 0``: the embeddings
alone): both subsampled with one stride, plain DTW on the squared-Euclidean cost
(:func:`~posebeam.models.alignment.dtw_path`), and for each frame of A the first frame of B the path
matches it to. Writes that table as ``FILE.csv`` (``frame_a``, ``frame_b``: frame numbers of the
videos) and ``FILE.png``: the cost matrix with the path and four matched skeleton pairs.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posebeam.figures.alignment_figure import MatchedPose, draw_alignment
from posebeam.models.alignment import KEYPOINT_WEIGHT, alignment_features, dtw_path, first_matches
from posebeam.pipeline.clips import person_rows
from posebeam.pipeline.segment_command import check_exists
from posebeam.pipeline.usage import UsageError, non_negative_float, non_negative_int, positive_int
from posebeam.schemas.layouts import COCO17
from posebeam.storage.parquet_tables import read_table
from posebeam.storage.uris import join, list_files
from posebeam.transforms.track_coordinates import hip_torso_coordinates

MAX_COST_CELLS = 4_000_000
"""The automatic stride keeps the DTW cost matrix at most this many cells (about 2000 × 2000)."""


def add_align_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", metavar="OUTPUT", help="the tables of a posebeam run with embeddings")
    parser.add_argument("video_a", metavar="VIDEO_A", help="a video_id, or the file name or URI of a video")
    parser.add_argument("video_b", metavar="VIDEO_B", help="the video to align VIDEO_A with")
    for flag, video in (("--person-a", "VIDEO_A"), ("--person-b", "VIDEO_B")):
        parser.add_argument(
            flag, dest=flag[2:].replace("-", "_"), type=non_negative_int, default=None, metavar="ID",
            help=f"person_id in {video} (default: its person with the most embedded frames)",
        )  # fmt: skip
    for flag, video in (("--frames-a", "VIDEO_A"), ("--frames-b", "VIDEO_B")):
        parser.add_argument(
            flag, dest=flag[2:].replace("-", "_"), type=frame_span, default=None, metavar="START:END",
            help=f"only {video}'s frames START to END-1 (frame numbers; either side may be left empty)",
        )  # fmt: skip
    parser.add_argument("--stride", type=positive_int, default=None,
                        help="use every N-th embedded frame (default: 1, or what keeps the cost matrix "
                        f"under {MAX_COST_CELLS:,} cells)")  # fmt: skip
    parser.add_argument("--keypoint-weight", type=non_negative_float, default=KEYPOINT_WEIGHT,
                        help="weight of the keypoints beside the embeddings in the DTW cost (default: "
                        f"{KEYPOINT_WEIGHT:g}, equal weight; 0: the embeddings alone)")  # fmt: skip
    parser.add_argument("-o", dest="figure", metavar="FILE.png", type=Path, required=True,
                        help="the figure; the matched frames go to FILE.csv beside it")  # fmt: skip


def frame_span(text: str) -> tuple[int | None, int | None]:
    """``START:END`` → ``(START, END)``, either ``None`` when left empty."""
    start, sep, end = text.partition(":")
    try:
        span = (int(start) if start.strip() else None, int(end) if end.strip() else None)
    except ValueError:
        span = None
    empty = span is not None and span[0] is not None and span[1] is not None and span[0] >= span[1]
    if not sep or span is None or empty:
        raise argparse.ArgumentTypeError(f"expected START:END with START < END (frame numbers), got {text!r}")
    return span


def resolve_video(videos: pa.Table, name: str) -> str:
    """The ``video_id`` that ``name`` is, or whose URI is ``name`` or ends with ``/name``."""
    ids, uris = videos.column("video_id").to_pylist(), videos.column("uri").to_pylist()
    found = {i for i, uri in zip(ids, uris, strict=True) if name in (i, uri) or uri.endswith("/" + name)}
    if len(found) == 1:
        return found.pop()
    if found:
        raise UsageError(f"{name} matches {len(found)} videos; give a video_id ({', '.join(sorted(found))})")
    raise UsageError(f"no video {name} in the videos table (give a video_id, a file name or a URI)")


def person_embeddings(
    table: pa.Table, video_id: str, person: int | None, span: tuple[int | None, int | None] | None = None
) -> tuple[int, pa.Table]:
    """The chosen person of ``video_id`` (``person``, or the one with the most rows) and its rows of
    ``table`` within the frame ``span``, sorted by frame."""
    rows = table.filter(pc.equal(table.column("video_id"), video_id))
    persons, counts = np.unique(rows.column("person_id").to_numpy(), return_counts=True)
    if len(persons) == 0:
        raise UsageError(f"video {video_id} has no embeddings (was it run with --aligner none?)")
    if person is None:
        person = int(persons[np.argmax(counts)])
    elif person not in persons:
        raise UsageError(f"video {video_id} has no embedded person {person} (embedded: {persons.tolist()})")
    chosen = rows.filter(pc.equal(rows.column("person_id"), person))
    start, end = span or (None, None)
    if start is not None:
        chosen = chosen.filter(pc.greater_equal(chosen.column("frame_index"), start))
    if end is not None:
        chosen = chosen.filter(pc.less(chosen.column("frame_index"), end))
    if chosen.num_rows == 0:
        raise UsageError(f"person {person} of video {video_id} has no embedded frame in {start}:{end}")
    return person, chosen.sort_by("frame_index")


def auto_stride(length_a: int, length_b: int) -> int:
    """The smallest stride that keeps the cost matrix within :data:`MAX_COST_CELLS`."""
    stride = 1
    while math.ceil(length_a / stride) * math.ceil(length_b / stride) > MAX_COST_CELLS:
        stride += 1
    return stride


def person_keypoints(
    keypoints: pa.Table, video_id: str, person: int, frames: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(T, 17, 2)`` joints and ``(T, 17)`` scores of ``person`` at ``frames``, in that order; a frame
    without a keypoints row reads as no joint (scores 0)."""
    joints = np.zeros((len(frames), COCO17.num_joints, 2), dtype=np.float32)
    scores = np.zeros((len(frames), COCO17.num_joints), dtype=np.float32)
    same = pc.and_(
        pc.equal(keypoints.column("video_id"), video_id), pc.equal(keypoints.column("person_id"), person)
    )
    for rows in person_rows(keypoints.filter(same)):  # this person's rows, sorted by frame
        at = np.minimum(np.searchsorted(rows.frame_index, frames), len(rows.frame_index) - 1)
        found = rows.frame_index[at] == frames
        joints[found], scores[found] = rows.keypoints[at[found]], rows.scores[at[found]]
    return joints, scores


def run_align(args: argparse.Namespace) -> str:
    check_exists(args.output, "OUTPUT")
    if args.figure.suffix.lower() != ".png":
        raise UsageError(f"-o {args.figure}: the figure must be a .png file")
    for table, hint in (("videos", ""), ("embeddings", " (posebeam run --aligner writes it)")):
        if not list_files(join(args.output, table), ".parquet"):
            raise UsageError(f"no {table} table under {args.output}{hint}")
    videos = read_table(args.output, "videos")
    video_a, video_b = resolve_video(videos, args.video_a), resolve_video(videos, args.video_b)
    wanted = [("video_id", "in", sorted({video_a, video_b}))]
    embeddings = read_table(args.output, "embeddings", filters=wanted)
    person_a, rows_a = person_embeddings(embeddings, video_a, args.person_a, args.frames_a)
    person_b, rows_b = person_embeddings(embeddings, video_b, args.person_b, args.frames_b)
    keypoints = read_table(args.output, "keypoints", filters=wanted)
    all_a, all_b = rows_a.column("frame_index").to_numpy(), rows_b.column("frame_index").to_numpy()
    joints_a, scores_a = person_keypoints(keypoints, video_a, person_a, all_a)
    joints_b, scores_b = person_keypoints(keypoints, video_b, person_b, all_b)
    stride = args.stride or auto_stride(rows_a.num_rows, rows_b.num_rows)
    frames_a, frames_b = all_a[::stride], all_b[::stride]
    a = alignment_features(
        np.asarray(rows_a.column("embedding").to_pylist(), dtype=np.float32),
        hip_torso_coordinates(joints_a, scores_a), args.keypoint_weight,
    )[::stride]  # fmt: skip
    b = alignment_features(
        np.asarray(rows_b.column("embedding").to_pylist(), dtype=np.float32),
        hip_torso_coordinates(joints_b, scores_b), args.keypoint_weight,
    )[::stride]  # fmt: skip
    cost, path = dtw_path(a, b)
    firsts = first_matches(path)
    matched = frames_b[firsts]
    table = args.figure.with_suffix(".csv")
    table.parent.mkdir(parents=True, exist_ok=True)
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["frame_a", "frame_b"])
        writer.writerows(zip(frames_a.tolist(), matched.tolist(), strict=True))
    pairs = []
    for q in (0.125, 0.375, 0.625, 0.875):  # four matched skeleton pairs along A
        k = int(q * (len(frames_a) - 1))
        i, j = k * stride, int(firsts[k]) * stride  # rows of A's and B's tracks
        if scores_a[i].any() and scores_b[j].any():
            pose_a = MatchedPose(int(all_a[i]), joints_a[i], scores_a[i])
            pairs.append((pose_a, MatchedPose(int(all_b[j]), joints_b[j], scores_b[j])))
    titles = (f"{args.video_a} person {person_a}", f"{args.video_b} person {person_b}")
    compared = "the embeddings" + (" and keypoints" if args.keypoint_weight > 0 else "")
    draw_alignment(cost, path, frames_a, frames_b, pairs, titles, args.figure, compared)
    return (
        f"{len(frames_a)} frames of {titles[0]} matched to {titles[1]} ({len(frames_b)} frames, stride "
        f"{stride}); table {table}, figure {args.figure}"
    )
