"""Training samples from keypoints and label tables (``posebeam synth`` output or your own), no Beam run.

Sources are given as paths: a CSV file, a Parquet file, a folder of Parquet parts, or an output
folder holding the named table (``OUT`` for ``OUT/keypoints``). Label columns are those of
:mod:`posebeam.schemas.labels`; a keypoints CSV has ``video_id, frame_index, person_id`` and the 51
columns ``x0, y0, c0 … x16, y16, c16`` (pixels, confidence; COCO-17 order).

Labels are checked against the keypoints before any sample is built; a mismatch raises
:class:`LabelError` naming the table, the (0-based) row, the video and the person: a video or
person with no keypoints, labels of one person that overlap, frames outside the video.

Samples are dense over frames: a frame with no keypoints row for the person has all scores 0 and
coordinates 0 (missing, docs/method.md §1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from posebeam.schemas.labels import LABEL_TABLES
from posebeam.schemas.tables import METADATA_TABLE_KEY, NUM_KEYPOINT_VALUES, check_schema_version
from posebeam.storage.parquet_tables import read_table, readable

NUM_JOINTS = NUM_KEYPOINT_VALUES // 3
KEYPOINT_CSV_COLUMNS = [f"{axis}{j}" for j in range(NUM_JOINTS) for axis in "xyc"]


class LabelError(ValueError):
    """Labels that do not fit the keypoints (or are malformed); the message names the row."""


def read_source(source: str, table: str) -> pa.Table:
    """``table`` from a CSV file, a Parquet file or folder, or an output folder holding ``table``."""
    if source.lower().endswith(".csv"):
        return pa.Table.from_pandas(
            pd.read_csv(source, dtype={"video_id": str, "label": str}), preserve_index=False
        )
    if os.path.isdir(os.path.join(source, table)) or "://" in source:
        return read_table(source, table)
    if os.path.isdir(source) or source.lower().endswith(".parquet"):
        read = pq.read_table(source)
        if read.schema.metadata and METADATA_TABLE_KEY in read.schema.metadata:
            check_schema_version(read.schema, table)
        return readable(table, read)
    raise LabelError(
        f"{table}: {source} is not a CSV file, a Parquet file or folder, or a folder holding {table}/"
    )


@dataclass(frozen=True)
class Tracks:
    """Keypoints grouped by track: ``(video_id, person_id)`` → sorted frame indices ``(n,)`` and
    keypoints ``(n, 17, 3)`` (x, y pixels, confidence). ``num_frames`` per video: the ``videos``
    table's ``frames_decoded`` when given, else the last keypoint frame + 1."""

    frames: dict[tuple[str, int], np.ndarray]
    keypoints: dict[tuple[str, int], np.ndarray]
    num_frames: dict[str, int]

    def dense(self, video_id: str, person_id: int, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Frames ``[start, end)`` of a track: ``(T, 17, 2)`` coordinates and ``(T, 17)`` scores."""
        kp = np.zeros((end - start, NUM_JOINTS, 3), dtype=np.float32)
        key = (video_id, person_id)
        if key in self.frames:
            frames = self.frames[key]
            lo, hi = np.searchsorted(frames, [start, end])
            kp[frames[lo:hi] - start] = self.keypoints[key][lo:hi]
        return kp[..., :2], kp[..., 2]


def _keypoint_array(table: pa.Table) -> np.ndarray:
    if "keypoints" in table.column_names:
        flat = pc.list_flatten(table.column("keypoints").combine_chunks())
        return flat.to_numpy(zero_copy_only=False).reshape(-1, NUM_JOINTS, 3)
    missing = [c for c in KEYPOINT_CSV_COLUMNS if c not in table.column_names]
    if missing:
        raise LabelError(f"keypoints: no 'keypoints' column and no columns {', '.join(missing[:4])} …")
    return np.stack([table.column(c).to_numpy() for c in KEYPOINT_CSV_COLUMNS], -1).reshape(-1, NUM_JOINTS, 3)


def load_tracks(keypoints: str | pa.Table, videos: str | pa.Table | None = None) -> Tracks:
    """Group a ``keypoints`` table (a source path or an Arrow table) by track.

    ``videos`` gives each video's length; when ``keypoints`` is an output folder that also holds a
    ``videos`` table, that one is used.
    """
    if videos is None and isinstance(keypoints, str) and os.path.isdir(os.path.join(keypoints, "videos")):
        videos = keypoints
    table = read_source(keypoints, "keypoints") if isinstance(keypoints, str) else keypoints
    video_ids = np.asarray(table.column("video_id").to_numpy(zero_copy_only=False), dtype=object)
    person = table.column("person_id").to_numpy().astype(np.int64)
    frame = table.column("frame_index").to_numpy().astype(np.int64)
    kp = _keypoint_array(table).astype(np.float32)
    codes, uniques = pd.factorize(video_ids)
    order = np.lexsort((frame, person, codes))
    codes, person, frame, kp = codes[order], person[order], frame[order], kp[order]
    starts = np.flatnonzero(np.r_[True, (np.diff(codes) != 0) | (np.diff(person) != 0)])
    ends = np.r_[starts[1:], len(order)]
    frames_of, kp_of = {}, {}
    num_frames: dict[str, int] = {}
    for s, e in zip(starts, ends, strict=True):
        key = (str(uniques[codes[s]]), int(person[s]))
        frames_of[key], kp_of[key] = frame[s:e], kp[s:e]
        num_frames[key[0]] = max(num_frames.get(key[0], 0), int(frame[e - 1]) + 1)
    if videos is not None:
        vt = read_source(videos, "videos") if isinstance(videos, str) else videos
        for vid, n in zip(
            vt.column("video_id").to_pylist(), vt.column("frames_decoded").to_pylist(), strict=True
        ):
            if n is not None:
                num_frames[vid] = max(int(n), num_frames.get(vid, 0))
    return Tracks(frames_of, kp_of, num_frames)


def frame_rate(source: str) -> float | None:
    """The median frame rate of ``source``'s ``videos`` table; None without one (or without rates)."""
    if not os.path.isdir(os.path.join(source, "videos")) and "://" not in source:
        return None
    rates = [r for r in read_source(source, "videos").column("fps").to_pylist() if r]
    return float(np.median(rates)) if rates else None


def read_labels(source: str | pa.Table, table: str) -> pd.DataFrame:
    """A label table with its columns checked and typed (``table`` names one of :data:`LABEL_TABLES`)."""
    schema = LABEL_TABLES[table]
    data = read_source(source, table) if isinstance(source, str) else source
    frame = data.to_pandas()
    missing = [name for name in schema.names if name not in frame.columns]
    if missing:
        raise LabelError(f"{table}: missing columns {', '.join(missing)} (needs {', '.join(schema.names)})")
    frame = frame[list(schema.names)].reset_index(drop=True)
    for name in schema.names:
        nulls = np.flatnonzero(frame[name].isna().to_numpy())
        if len(nulls):
            raise LabelError(f"{table} row {nulls[0]}: empty {name}")
        if pa.types.is_integer(schema.field(name).type):
            values = pd.to_numeric(frame[name], errors="coerce")
            bad = np.flatnonzero(values.isna().to_numpy() | (values % 1 != 0).to_numpy())
            if len(bad):
                raise LabelError(
                    f"{table} row {bad[0]}: {name} {str(frame[name][bad[0]])!r} is not an integer"
                )
            frame[name] = values.astype(np.int64)
        elif pa.types.is_string(schema.field(name).type):
            frame[name] = frame[name].astype(str)
    return frame


def _where(table: str, row: int, labels: pd.DataFrame) -> str:
    return f"{table} row {row}: video {labels.video_id[row]!r} person {labels.person_id[row]}"


def check_labels(labels: pd.DataFrame, table: str, tracks: Tracks) -> None:
    """Raise :class:`LabelError` unless every row names a track with keypoints, lies inside its
    video, and no two rows of one person cover the same frame."""
    video, person = labels.video_id.to_numpy(dtype=object), labels.person_id.to_numpy()
    ranged = "start_frame" in labels.columns
    starts = labels["start_frame" if ranged else "frame_index"].to_numpy()
    ends = labels.end_frame.to_numpy() if ranged else starts + 1

    def shown(row: int) -> str:
        return f"frames [{starts[row]}, {ends[row]})" if ranged else f"frame {starts[row]}"

    unknown = np.flatnonzero(~labels.video_id.isin(list(tracks.num_frames)).to_numpy())
    if len(unknown):
        raise LabelError(f"{table} row {unknown[0]}: video {video[unknown[0]]!r} has no keypoints")
    known = pd.MultiIndex.from_arrays([video, person]).isin(list(tracks.frames))
    if not known.all():
        row = int(np.flatnonzero(~known)[0])
        raise LabelError(f"{_where(table, row, labels)} has no keypoints")
    total = labels.video_id.map(tracks.num_frames).to_numpy()
    outside = np.flatnonzero((starts < 0) | (ends > total) | (starts >= ends))
    if len(outside):
        row = int(outside[0])
        raise LabelError(
            f"{_where(table, row, labels)}: {shown(row)} outside the video's frames [0, {total[row]})"
        )
    order = np.lexsort((starts, person, pd.factorize(video)[0]))
    same_track = (video[order][1:] == video[order][:-1]) & (person[order][1:] == person[order][:-1])
    clash = np.flatnonzero(same_track & (starts[order][1:] < ends[order][:-1]))
    if len(clash):
        a, b = sorted((int(order[clash[0]]), int(order[clash[0] + 1])))
        raise LabelError(
            f"{table} rows {a} and {b} overlap: video {video[a]!r} person {person[a]}, "
            f"{shown(a)} and {shown(b)}"
        )


@dataclass(frozen=True)
class ClipSample:
    """One labelled clip of one track: ``keypoints`` ``(T, 17, 2)`` pixels, ``scores`` ``(T, 17)``
    (0 = missing), ``label`` an index into the class list, frames ``[start_frame, end_frame)``."""

    video_id: str
    person_id: int
    start_frame: int
    end_frame: int
    keypoints: np.ndarray
    scores: np.ndarray
    label: int


@dataclass(frozen=True)
class FrameSequence:
    """One labelled track over frames ``[start_frame, start_frame + T)``: ``keypoints`` ``(T, 17, 2)``,
    ``scores`` ``(T, 17)``, ``labels`` ``(T,)`` class indices (-1 = unlabelled frame), and for phase
    labels ``progress`` ``(T,)`` in [0, 1] (NaN = unlabelled)."""

    video_id: str
    person_id: int
    start_frame: int
    keypoints: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    progress: np.ndarray | None = None


def _classes(values: pd.Series, classes: list[str] | None, table: str) -> tuple[list[str], np.ndarray]:
    names = classes if classes is not None else sorted(values.unique())
    lookup = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(values) - set(lookup))
    if unknown:
        raise LabelError(f"{table}: labels {', '.join(unknown)} are not among the classes {', '.join(names)}")
    return list(names), values.map(lookup).to_numpy(dtype=np.int64)


def load_clips(
    keypoints: str | pa.Table | Tracks,
    clip_labels: str | pa.Table,
    *,
    videos: str | pa.Table | None = None,
    classes: list[str] | None = None,
    exclude: tuple[str, ...] = (),
) -> tuple[list[ClipSample], list[str]]:
    """Clip samples for a classifier, and the class names (sorted unless ``classes`` is given).

    Rows whose label is in ``exclude`` (e.g. ``("idle",)``) are checked but give no sample.
    """
    tracks = keypoints if isinstance(keypoints, Tracks) else load_tracks(keypoints, videos)
    labels = read_labels(clip_labels, "clip_labels")
    check_labels(labels, "clip_labels", tracks)
    labels = labels[~labels.label.isin(exclude)].reset_index(drop=True)
    names, index = _classes(labels.label, classes, "clip_labels")
    samples = []
    for row in labels.itertuples():
        xy, score = tracks.dense(row.video_id, row.person_id, row.start_frame, row.end_frame)
        samples.append(
            ClipSample(
                row.video_id, row.person_id, row.start_frame, row.end_frame, xy, score, int(index[row.Index])
            )
        )
    return samples, names


def load_frame_sequences(
    keypoints: str | pa.Table | Tracks,
    frame_labels: str | pa.Table,
    *,
    table: str = "frame_labels_gt",
    videos: str | pa.Table | None = None,
    classes: list[str] | None = None,
) -> tuple[list[FrameSequence], list[str]]:
    """One sequence per labelled track, from its first to its last labelled frame.

    ``table`` is ``frame_labels_gt`` (labels: actions) or ``phase_labels`` (labels: phases, plus
    ``progress``). Returns the sequences and the class (or phase) names.
    """
    tracks = keypoints if isinstance(keypoints, Tracks) else load_tracks(keypoints, videos)
    labels = read_labels(frame_labels, table)
    check_labels(labels, table, tracks)
    column = "phase" if table == "phase_labels" else "label"
    names, index = _classes(labels[column], classes, table)
    labels = labels.assign(_class=index)
    sequences = []
    for (video, person), rows in labels.groupby(["video_id", "person_id"], sort=True):
        start, end = int(rows.frame_index.min()), int(rows.frame_index.max()) + 1
        xy, score = tracks.dense(str(video), int(person), start, end)
        dense = np.full(end - start, -1, dtype=np.int64)
        dense[rows.frame_index.to_numpy() - start] = rows._class.to_numpy()
        progress = None
        if "progress" in rows.columns:
            progress = np.full(end - start, np.nan, dtype=np.float32)
            progress[rows.frame_index.to_numpy() - start] = rows.progress.to_numpy()
        sequences.append(FrameSequence(str(video), int(person), start, xy, score, dense, progress))
    return sequences, names
