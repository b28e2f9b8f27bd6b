"""``posebeam inspect OUTPUT [--json]``: what a run wrote, at a glance.

Each table's rows, files, size and schema version; the videos with their duration and persons
(persons per video summarised); failures by stage with their reasons; the label histograms of the
model tables (clips per predicted label, frames per frame label, seconds per segment label).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from posebeam.pipeline.usage import UsageError
from posebeam.storage.output_summary import LABEL_AMOUNTS, OutputSummary, summarise_output
from posebeam.storage.uris import exists

MAX_LISTED = 20
"""Videos and failures listed one per line; beyond that only the summary lines."""


def add_inspect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", metavar="OUTPUT", help="a run's output folder (local or gs://)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def size_text(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def file_name(uri: str) -> str:
    """The last part of a path or URI (what a person calls the file)."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


def render(summary: OutputSummary) -> str:
    """The text ``posebeam inspect`` prints."""
    lines = [f"{summary.output}", "", f"{'table':<18}{'rows':>12}{'files':>7}{'size':>11}  schema"]
    for t in summary.tables:
        lines.append(f"{t.name:<18}{t.rows:>12,}{t.files:>7}{size_text(t.bytes):>11}  {t.schema_version}")
    if summary.videos:
        persons = np.array([v["persons_found"] for v in summary.videos])
        lines += [
            "",
            f"videos: {len(summary.videos)}; persons per video: min {persons.min()}, "
            f"median {np.median(persons):g}, max {persons.max()}",
        ]
        for video in summary.videos[:MAX_LISTED]:
            duration = "?" if video["duration_s"] is None else f"{video['duration_s']:.1f} s"
            lines.append(
                f"  {file_name(video['uri'])}  {duration}, {video['persons_found']} persons, "
                f"{video['person_frames']:,} person-frames  ({video['video_id']})"
            )
        if len(summary.videos) > MAX_LISTED:
            lines.append(f"  … and {len(summary.videos) - MAX_LISTED} more")
    if summary.failures:
        by_stage = ", ".join(f"{stage} {count}" for stage, count in summary.failures_by_stage.items())
        lines += ["", f"failures: {len(summary.failures)} ({by_stage})"]
        for failure in summary.failures[:MAX_LISTED]:
            lines.append(f"  {file_name(failure['uri'])}  [{failure['stage']}] {failure['message']}")
        if len(summary.failures) > MAX_LISTED:
            lines.append(f"  … and {len(summary.failures) - MAX_LISTED} more")
    for table, amounts in summary.labels.items():
        unit = LABEL_AMOUNTS[table]
        shown = ", ".join(f"{label} {amount:,.0f}" if unit != "seconds" else f"{label} {amount:,.1f}"
                          for label, amount in amounts.items())  # fmt: skip
        lines += ["", f"{table} ({unit} per label): {shown or 'none'}"]
    return "\n".join(lines)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and value != value:  # NaN → null
        return None
    return value


def run_inspect(args: argparse.Namespace) -> None:
    if not exists(args.output):
        raise UsageError(f"OUTPUT {args.output} does not exist")
    try:
        summary = summarise_output(args.output)
    except FileNotFoundError as err:
        raise UsageError(str(err)) from err
    print(json.dumps(_json_safe(summary.as_json()), indent=2) if args.json else render(summary))
