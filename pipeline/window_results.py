"""A video's window results put back together: one keypoints table and one ``videos`` row (or one
``failures`` row), as if the video had been read in one pass.

Each window (:class:`~posebeam.transforms.video_windows.TimeWindow`) ran the pose stage on its part
of the video with its own tracker; :func:`combine_windows` keeps each window's reported rows,
renames their ``person_id``s video-wide
(:func:`~posebeam.transforms.video_windows.stitch_person_ids`) and adds up the counts. The video
fails when any window failed (the first failure, named by its window) or when no window decoded a
frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from posebeam.pipeline.pose_stage import StageError
from posebeam.pipeline.video_result import VideoResult
from posebeam.schemas.tables import KEYPOINT_ROWS
from posebeam.storage.video import NoFramesDecoded
from posebeam.transforms.video_windows import TimeWindow, TrackedRows, stitch_person_ids

SUMMED_COUNTS = ("frames_decoded", "frames_processed", "packets_skipped")


def _tracked_rows(table: pa.Table) -> TrackedRows:
    bbox = table.column("bbox").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return TrackedRows(
        frame_index=table.column("frame_index").to_numpy(),
        timestamp_s=table.column("timestamp_s").to_numpy(),
        person_id=table.column("person_id").to_numpy(),
        bbox=bbox.reshape(-1, 4),
        bbox_score=table.column("bbox_score").to_numpy(),
    )


def _named_failure(window: TimeWindow, failure: dict[str, Any]) -> dict[str, Any]:
    if window.count == 1:
        return failure
    return {**failure, "message": f"{window.describe()}: {failure['message']}"}


def combine_windows(
    uri: str,
    video_id: str,
    results: Sequence[tuple[TimeWindow, VideoResult]],
    high_score: float,
) -> VideoResult:
    """The video's result from all its windows' results (any order); ``high_score``: the tracker's
    confident detection score (``ExtractConfig.track_high_score``)."""
    ordered = sorted(results, key=lambda pair: pair[0].index)
    windows = [window for window, _ in ordered]
    if [w.index for w in windows] != list(range(windows[0].count)):
        raise ValueError(f"{video_id}: expected {windows[0].count} windows, got {[w.index for w in windows]}")
    for window, result in ordered:
        if result.failure is not None:
            return VideoResult(failure=_named_failure(window, result.failure))
    rows = [result.video for _, result in ordered if result.video is not None]
    assert len(rows) == len(ordered), "a result without failure has a videos row"
    if sum(row["frames_decoded"] for row in rows) == 0:
        errors = [error for _, result in ordered for error in result.decode_errors]
        reason = "; ".join(errors[:3]) or "the video stream holds no decodable frame"
        return StageError("decode", NoFramesDecoded(reason)).as_result(uri, video_id)
    tables = [
        result.keypoints if result.keypoints is not None else KEYPOINT_ROWS.empty_table()
        for _, result in ordered
    ]
    person_ids = stitch_person_ids(windows, [_tracked_rows(table) for table in tables], high_score)
    kept = []
    for table, ids in zip(tables, person_ids, strict=True):
        reported = ids >= 0
        table = table.filter(pa.array(reported))
        index = table.schema.get_field_index("person_id")
        kept.append(table.set_column(index, "person_id", pa.array(ids[reported].astype(np.int32))))
    keypoints = pa.concat_tables(kept)
    first = next(row for row in rows if row["frames_decoded"])
    video = {
        **first,
        **{name: sum(row[name] for row in rows) for name in SUMMED_COUNTS},
        "persons_found": len(pc.unique(keypoints.column("person_id"))),
        "person_frames": keypoints.num_rows,
    }
    return VideoResult(keypoints=keypoints, video=video)
