"""The ``extract`` and ``run`` jobs: ``run()`` checks a :class:`JobConfig` and calls ``build()``,
which only wires transforms.

Run as a module for launchers that pass Beam-style flags (Flex templates)::

    python -m posebeam.pipeline.run --input gs://bucket/videos/ --output gs://bucket/out \
        --runner DataflowRunner ...
"""

from __future__ import annotations

import contextlib
import logging
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import (
    PipelineOptions,
    PortableOptions,
    StandardOptions,
    TestOptions,
)
from apache_beam.runners.runner import PipelineResult, PipelineState

from posebeam.models.pose_backend import check_backend
from posebeam.pipeline.extract import (
    FAILURES_TAG,
    METRICS_NAMESPACE,
    VIDEOS_TAG,
    DecodeAndEstimatePoses,
)
from posebeam.pipeline.inputs import REJECTED, MatchInputs, check_inputs, count_inputs, unreadable_failure
from posebeam.pipeline.options import JobConfig, boolean_values, job_config, module_parser
from posebeam.pipeline.pose_stage import ExtractConfig
from posebeam.pipeline.progress import ProgressBar
from posebeam.pipeline.results_cache import cache_root
from posebeam.pipeline.usage import check_output_folder, check_reachable, is_local_runner
from posebeam.pipeline.write_tables import WriteBigQueryTables, WriteTables
from posebeam.storage.parquet_tables import read_table
from posebeam.storage.uris import is_local

if TYPE_CHECKING:  # the model stages import torch: an ``extract`` job (and its workers) never does
    from posebeam.pipeline.clips import ClassifyConfig
    from posebeam.pipeline.embed import EmbedConfig
    from posebeam.pipeline.segment import SegmentConfig

log = logging.getLogger(__name__)

LOCAL_RUNNER = "FnApiRunner"
"""Default runner: in-process, offline. (The plain DirectRunner tries to download Prism.)"""


def build(
    p: beam.Pipeline,
    input_arg: str,
    output: str,
    config: ExtractConfig,
    run_id: str,
    classify: ClassifyConfig | None = None,
    segment: SegmentConfig | None = None,
    embed: EmbedConfig | None = None,
    bigquery_dataset: str | None = None,
) -> dict[str, beam.PCollection]:
    """Wire the extract job into ``p``; returns the table PCollections before writing."""
    matched = p | "MatchInputs" >> MatchInputs(input_arg)
    files = matched.files | "OpenInputs" >> fileio.ReadMatches(skip_directories=False)
    unreadable = matched[REJECTED] | "RejectUnreadable" >> beam.MapTuple(
        unreadable_failure, progress_dir=config.progress_dir
    )
    poses = files | "DecodeAndEstimatePoses" >> DecodeAndEstimatePoses(config)
    tables = {"videos": poses[VIDEOS_TAG], "keypoints": poses["keypoints"]}
    failures = [poses[FAILURES_TAG], unreadable]
    if classify is not None:
        from posebeam.pipeline.classify import ClassifyClips

        classified = poses["keypoints"] | "ClassifyClips" >> ClassifyClips(classify, videos=tables["videos"])
        tables["clip_predictions"] = classified["clip_predictions"]
        failures.append(classified["failures"])
    if segment is not None:
        from posebeam.pipeline.segment import SegmentActions

        segmented = poses["keypoints"] | "SegmentActions" >> SegmentActions(segment, videos=tables["videos"])
        tables["frame_labels"], tables["segments"] = segmented["frame_labels"], segmented["segments"]
        failures.append(segmented["failures"])
    if embed is not None:
        from posebeam.pipeline.embed import EmbedForAlignment

        embedded = poses["keypoints"] | "EmbedForAlignment" >> EmbedForAlignment(
            embed, videos=tables["videos"]
        )
        tables["embeddings"] = embedded["embeddings"]
        failures.append(embedded["failures"])
    tables["failures"] = failures | "AllFailures" >> beam.Flatten()
    _ = tables | "WriteTables" >> WriteTables(output, run_id)
    if bigquery_dataset:
        _ = tables | "WriteBigQueryTables" >> WriteBigQueryTables(bigquery_dataset)
    return tables


def run(
    job: JobConfig, beam_args: Sequence[str] = (), test_pipeline: beam.Pipeline | None = None
) -> PipelineResult:
    """Check the inputs, output, backend and model weights, run the job and return its result:
    finished, or just submitted with ``job.detach``.

    ``beam_args`` go to Beam's ``PipelineOptions`` untouched."""
    check_inputs(job.input)
    check_output_folder(job.output)
    version = check_backend(job.extract.backend, **dict(job.extract.backend_options))
    config = replace(job.extract, backend_version=version)
    config = replace(config, cache_root=cache_root(job.output, config))
    options = PipelineOptions(list(beam_args))
    standard = options.view_as(StandardOptions)
    if standard.runner is None:
        standard.runner = LOCAL_RUNNER
    log.info("extracting poses from %s with %s on %s", job.input, config.backend, standard.runner)
    paths: list[tuple[str, str | None]] = [
        (f"{role} weights", stage.weights) for role, stage in job.model_stages()
    ]
    if not options.view_as(TestOptions).dry_run:  # a dry run builds the graph; workers read nothing
        paths += [("input", job.input), ("output folder", job.output)]
    environment = options.view_as(PortableOptions).environment_type
    check_reachable(paths, str(standard.runner), environment)
    p = test_pipeline or beam.Pipeline(options=options)
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    local = is_local_runner(str(standard.runner), environment) and not options.view_as(TestOptions).dry_run
    with contextlib.ExitStack() as stack:
        if local and not job.detach:
            progress_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="posebeam-progress-"))
            config = replace(config, progress_dir=progress_dir)
            stack.enter_context(
                ProgressBar(progress_dir, count_inputs(job.input) if is_local(job.input) else None)
            )
        build(
            p,
            job.input,
            job.output,
            config,
            run_id,
            job.classify,
            job.segment,
            job.embed,
            job.bigquery_dataset,
        )
        result = p.run()
        if not job.detach:
            result.wait_until_finish()
    return result


def launch(argv: Sequence[str] | None = None) -> PipelineResult:
    """A module or Flex-template launch: ``--input``, ``--output`` and the job options, parsed once
    (:func:`~posebeam.pipeline.options.module_parser`); every other flag is Beam's."""
    job, beam_args = module_job(argv)
    return run(job, beam_args)


def module_job(argv: Sequence[str] | None = None) -> tuple[JobConfig, list[str]]:
    """The job and Beam's flags of a module or Flex-template command line; Flex templates pass every
    parameter as ``--name=value``, so on/off options also take ``=true``/``=false``."""
    parser = module_parser()
    args, beam_args = parser.parse_known_args(boolean_values(parser, sys.argv[1:] if argv is None else argv))
    return job_config(args), beam_args


@dataclass(frozen=True)
class RunSummary:
    videos: int
    failures: int
    frames: int
    person_frames: int
    decode_errors: int
    resumed: int
    persons: int = 0

    def __str__(self) -> str:
        per_frame = self.person_frames / self.frames if self.frames else 0.0
        return (
            f"{self.videos} videos done, {self.failures} failed; {self.frames} frames, "
            f"{self.person_frames} person-frames ({per_frame:.2f} per frame), "
            f"{self.decode_errors} corrupt packets skipped, {self.resumed} inputs resumed from an earlier run"
        )

    def table(
        self, output: str, elapsed_s: float | None, top_failures: Sequence[tuple[int, str]] = ()
    ) -> str:
        """The end-of-run table; ``top_failures``: (count, reason) of the commonest failures."""
        rate = f"{self.frames / elapsed_s:.1f} frames/s" if elapsed_s and self.frames else ""
        per_frame = f"{self.person_frames / self.frames:.2f} per frame" if self.frames else ""
        rows = [
            ("videos done", self.videos, ""),
            ("inputs failed", self.failures, ""),
            *(("", "", f"{count}x {reason}") for count, reason in top_failures),
            ("persons", self.persons, "tracks, over all videos"),
            ("frames", self.frames, rate),
            ("person-frames", self.person_frames, per_frame),
            ("corrupt packets", self.decode_errors, "skipped"),
            ("resumed", self.resumed, "inputs taken from an earlier run's cache"),
        ]
        took = f" in {elapsed_s:.1f} s" if elapsed_s is not None else ""
        lines = [f"done{took}; tables in {output}"]
        for label, value, note in rows:
            number = f"{value:,}" if isinstance(value, int) else value
            lines.append(f"  {label:<16}{number:>10}  {note}".rstrip())
        return "\n".join(lines)


def top_failures(output: str, count: int = 3) -> list[tuple[int, str]]:
    """The commonest ``(stage, message)`` pairs of the failures table, as ``(count, "[stage] message")``."""
    try:
        failures = read_table(output, "failures").to_pandas()
    except (FileNotFoundError, OSError):
        return []
    if failures.empty:
        return []
    common = failures.groupby(["stage", "message"]).size().sort_values(ascending=False).head(count)
    return [(int(n), f"[{stage}] {message}") for (stage, message), n in common.items()]


def report(
    result: PipelineResult, job: JobConfig, beam_args: Sequence[str] = (), elapsed_s: float | None = None
) -> str:
    """How a launch ended: a dry run's graph, a submitted job (one line each), or a finished run's
    table of counters (only a finished run has metrics to query) with its commonest failures."""
    if PipelineOptions(list(beam_args)).view_as(TestOptions).dry_run:
        return f"dry run: the job graph was built and nothing ran (tables would go to {job.output})"
    if not PipelineState.is_terminal(result.state):
        job_id = result.job_id() if hasattr(result, "job_id") else "the job"
        return f"{job_id} submitted ({result.state}); it writes the tables to {job.output}"
    summary = summarise(result)
    return summary.table(job.output, elapsed_s, top_failures(job.output) if summary.failures else ())


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
        persons=totals.get("persons", 0),
    )


if __name__ == "__main__":
    logging.getLogger().setLevel(logging.INFO)
    module_job_config, module_beam_args = module_job()
    print(report(run(module_job_config, module_beam_args), module_job_config, module_beam_args))
