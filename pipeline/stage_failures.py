"""``ModelStageFailures``: what a model stage could not do, as ``failures`` rows, one per video.

A model stage (``classify`` now; ``segment`` and ``embed`` later) reports each element it could
not process as a :class:`StageFailure`: a clip whose frames cannot be re-read, a batch whose
inference raised. They are counted per video and stage, so a deleted hour-long video gives one
row ("212 clips of this video could not be classified: …"), not hundreds. The row's ``uri`` is
the video's file from the ``videos`` table (its ``video_id`` when the stage runs without it).

Such a video also has its ``videos`` row: extraction succeeded; the ``failures`` row says which
later stage lost part of its output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import apache_beam as beam

from posebeam.pipeline.extract import METRICS_NAMESPACE
from posebeam.schemas.records import failure_row

NOUNS = {
    "classify": ("clip", "classified"),
    "segment": ("track", "segmented"),
    "embed": ("track", "embedded"),
}


class StageFailure(NamedTuple):
    video_id: str
    error_type: str
    reason: str


class _CountFailures(beam.CombineFn):
    """Per key: how many failures, and the first reason seen (by sort order, so it is stable)."""

    def create_accumulator(self) -> tuple[int, tuple[str, str] | None]:
        return 0, None

    def add_input(self, acc: tuple[int, Any], failure: StageFailure) -> tuple[int, Any]:
        first = (failure.error_type, failure.reason)
        return acc[0] + 1, first if acc[1] is None else min(acc[1], first)

    def merge_accumulators(self, accumulators: Any) -> tuple[int, Any]:
        count, first = 0, None
        for n, reason in accumulators:
            count += n
            if reason is not None:
                first = reason if first is None else min(first, reason)
        return count, first

    def extract_output(self, acc: tuple[int, Any]) -> tuple[int, Any]:
        return acc


def _row(item: tuple[str, tuple[int, tuple[str, str]]], stage: str, uris: Any) -> dict[str, Any]:
    video_id, (count, (error_type, reason)) = item
    noun, done = NOUNS[stage]
    plural = noun if count == 1 else f"{noun}s"
    message = f"{count} {plural} of this video could not be {done}: {reason}"
    uri = min((uris[video_id] if uris is not None else []) or [video_id])
    row = failure_row(uri, stage, reason, video_id, message=message)
    return {**row, "error_type": error_type}


def batch_failures(
    failed: tuple[Sequence[tuple[Any, Any]], tuple[type, str, list[str]]],
) -> list[StageFailure]:
    """A batch whose inference raised (Beam's dead letter: the batch, and the exception's class,
    repr and traceback lines): one failure per element, whose key's first field is its video id,
    with the exception's text."""
    batch, (error_class, error_repr, trace) = failed
    last = trace[-1].strip() if trace else error_repr
    text = last.split(": ", 1)[1] if ": " in last else error_repr
    return [StageFailure(key[0], error_class.__name__, text) for key, _ in batch]


class ModelStageFailures(beam.PTransform):
    """PCollection[StageFailure] → ``failures`` rows of ``stage``, one per video."""

    def __init__(self, stage: str, videos: beam.PCollection | None) -> None:
        super().__init__()
        self._stage = stage
        self._videos = videos

    def expand(self, failures: beam.PCollection) -> beam.PCollection:
        stage = self._stage
        counter = beam.metrics.Metrics.counter(METRICS_NAMESPACE, f"{stage}_failures")
        if self._videos is not None:
            uris = self._videos | "FailureUris" >> beam.Map(lambda row: (row["video_id"], row["uri"]))
            uri_map: Any = beam.pvalue.AsMultiMap(uris)
        else:
            uri_map = None

        def count(item: Any) -> Any:
            counter.inc()
            return item

        return (
            failures
            | "ByVideo" >> beam.Map(lambda f: (f.video_id, f))
            | "CountPerVideo" >> beam.CombinePerKey(_CountFailures())
            | "ToFailureRows" >> beam.Map(_row, stage, uri_map)
            | "CountRows" >> beam.Map(count)
        )
