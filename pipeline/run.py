"""The ``extract`` job: ``run()`` parses options and calls ``build()``, which only wires transforms.

Run as a module for launchers that pass Beam-style flags (Flex templates)::

    python -m posebeam.pipeline.run --input gs://bucket/videos/ --output gs://bucket/out \
        --runner DataflowRunner ...
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.runner import PipelineResult

from posebeam.models.pose_backend import check_backend
from posebeam.pipeline.classify import ClassifyClips, ClassifyConfig
from posebeam.pipeline.extract import (
    FAILURES_TAG,
    METRICS_NAMESPACE,
    VIDEOS_TAG,
    DecodeAndEstimatePoses,
    ExtractConfig,
)
from posebeam.pipeline.inputs import MatchedInputs, UsageError, input_patterns, match_inputs
from posebeam.pipeline.options import ExtractOptions, classify_config, extract_config
from posebeam.pipeline.results_cache import cache_root
from posebeam.pipeline.tables import WriteTables
from posebeam.schemas.records import failure_row

log = logging.getLogger(__name__)

LOCAL_RUNNER = "FnApiRunner"
"""Default runner: in-process, offline. (The plain DirectRunner tries to download Prism.)"""


def _unreadable_failure(path: str, reason: str) -> dict[str, object]:
    beam.metrics.Metrics.counter(METRICS_NAMESPACE, "failures").inc()
    return failure_row(path, "read", reason)


def build(
    p: beam.Pipeline,
    inputs: MatchedInputs,
    output: str,
    config: ExtractConfig,
    run_id: str,
    classify: ClassifyConfig | None = None,
) -> dict[str, beam.PCollection]:
    """Wire the extract job into ``p``; returns the table PCollections before writing."""
    files = (
        p
        | "ListInputs" >> beam.Create(inputs.files)
        | "OpenInputs" >> fileio.ReadMatches(skip_directories=False)
    )
    unreadable = (
        p
        | "ListUnreadable" >> beam.Create(inputs.rejected)
        | "RejectUnreadable" >> beam.MapTuple(_unreadable_failure)
    )
    poses = files | "DecodeAndEstimatePoses" >> DecodeAndEstimatePoses(config)
    tables = {
        "videos": poses[VIDEOS_TAG],
        "keypoints": poses["keypoints"],
        "failures": (poses[FAILURES_TAG], unreadable) | "AllFailures" >> beam.Flatten(),
    }
    if classify is not None:
        tables["clip_predictions"] = poses["keypoints"] | "ClassifyClips" >> ClassifyClips(
            classify, videos=tables["videos"]
        )
    _ = tables | "WriteTables" >> WriteTables(output, run_id)
    return tables


def _check_output(output: str) -> None:
    if "://" in output:
        return
    try:
        os.makedirs(output, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create output folder {output}: {err.strerror}") from None
    if not os.access(output, os.W_OK):
        raise UsageError(f"output folder {output} is not writable")


def run(argv: Sequence[str] | None = None, test_pipeline: beam.Pipeline | None = None) -> PipelineResult:
    """Validate the options, run the job to completion and return its result."""
    options = PipelineOptions(list(argv) if argv is not None else None)
    view = options.view_as(ExtractOptions)
    if not view.input or not view.output:
        raise UsageError("both --input and --output are required")
    inputs = match_inputs(input_patterns(view.input))
    _check_output(view.output)
    base_config = extract_config(options)
    config = replace(base_config, cache_root=cache_root(view.output, base_config), resume=view.resume)
    check_backend(config.backend, **dict(config.backend_options))
    standard = options.view_as(StandardOptions)
    if standard.runner is None:
        standard.runner = LOCAL_RUNNER
    log.info("extracting poses from %d inputs with %s on %s", len(inputs), config.backend, standard.runner)
    p = test_pipeline or beam.Pipeline(options=options)
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    build(p, inputs, view.output, config, run_id, classify_config(options))
    result = p.run()
    result.wait_until_finish()
    return result


@dataclass(frozen=True)
class RunSummary:
    videos: int
    failures: int
    frames: int
    person_frames: int
    decode_errors: int
    resumed: int

    def __str__(self) -> str:
        per_frame = self.person_frames / self.frames if self.frames else 0.0
        return (
            f"{self.videos} videos done, {self.failures} failed; {self.frames} frames, "
            f"{self.person_frames} person-frames ({per_frame:.2f} per frame), "
            f"{self.decode_errors} corrupt packets skipped, {self.resumed} inputs resumed from an earlier run"
        )


def summarise(result: PipelineResult) -> RunSummary:
    """Counter totals of a finished run (committed values, falling back to attempted ones)."""
    query = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    totals: dict[str, int] = {}
    for counter in query["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + int(value or 0)
    return RunSummary(
        videos=totals.get("videos", 0),
        failures=totals.get("failures", 0),
        frames=totals.get("frames", 0),
        person_frames=totals.get("person_frames", 0),
        decode_errors=totals.get("decode_errors", 0),
        resumed=totals.get("resumed", 0),
    )


if __name__ == "__main__":
    logging.getLogger().setLevel(logging.INFO)
    print(summarise(run()))
