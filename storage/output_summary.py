"""What a run's output folder holds, read back from its published tables: each table's rows, files,
size and schema version (from the Parquet footers, no data read), the videos with their persons,
failures by stage and the label histograms of the model tables. ``posebeam inspect`` prints it and
``posebeam report`` builds its page on it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq

from posebeam.schemas.labels import LABEL_TABLES
from posebeam.schemas.tables import METADATA_VERSION_KEY, TABLES
from posebeam.storage.parquet_tables import read_table
from posebeam.storage.uris import filesystem, join, list_files, open_input


@dataclass(frozen=True)
class TableInfo:
    name: str
    files: int
    rows: int
    bytes: int
    schema_version: str  # "" when the files carry none; versions joined by "," when they differ


@dataclass
class OutputSummary:
    output: str
    tables: list[TableInfo]
    videos: list[dict[str, Any]] = field(default_factory=list)  # the videos table's rows, by uri
    failures: list[dict[str, Any]] = field(default_factory=list)
    failures_by_stage: dict[str, int] = field(default_factory=dict)
    labels: dict[str, dict[str, float]] = field(default_factory=dict)  # model table → label → amount

    def table(self, name: str) -> TableInfo | None:
        return next((t for t in self.tables if t.name == name), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "tables": {t.name: {k: v for k, v in vars(t).items() if k != "name"} for t in self.tables},
            "videos": self.videos,
            "failures_by_stage": self.failures_by_stage,
            "labels": self.labels,
        }


LABEL_AMOUNTS = {
    "clip_predictions": "clips",
    "frame_labels": "frames",
    "segments": "seconds",
}
"""The model tables whose labels are counted, and what the histogram counts."""


def table_info(output: str, name: str) -> TableInfo | None:
    """Rows, files, bytes and schema version of one table from its files' footers; None if absent."""
    files = list_files(join(output, name), ".parquet")
    if not files:
        return None
    rows = size = 0
    versions = set()
    fs, _ = filesystem(output)
    for path in files:
        size += fs.get_file_info(filesystem(path)[1]).size or 0
        with open_input(path) as handle:
            metadata = pq.ParquetFile(handle).metadata
        rows += metadata.num_rows
        versions.add((metadata.metadata or {}).get(METADATA_VERSION_KEY, b"").decode())
    return TableInfo(name, len(files), rows, size, ",".join(sorted(versions)))


def _label_amounts(output: str, table: str) -> dict[str, float]:
    rows = read_table(output, table).to_pandas()
    if table == "segments":
        amounts = (rows["end_s"] - rows["start_s"]).groupby(rows["label"]).sum()
    else:
        amounts = rows.groupby("label").size()
    return {str(label): float(amount) for label, amount in amounts.sort_values(ascending=False).items()}


def summarise_output(output: str) -> OutputSummary:
    """The summary of a run's output folder; raises ``FileNotFoundError`` when it holds no table."""
    infos = [info for name in (*TABLES, *LABEL_TABLES) if (info := table_info(output, name)) is not None]
    if not infos:
        raise FileNotFoundError(f"{output} holds no posebeam table (is it a run's OUTPUT folder?)")
    summary = OutputSummary(output, infos)
    if summary.table("videos"):
        videos = read_table(output, "videos").to_pandas().sort_values("uri")
        summary.videos = videos.to_dict("records")
    if summary.table("failures"):
        failures = read_table(output, "failures").to_pandas().sort_values("uri")
        summary.failures = failures.to_dict("records")
        summary.failures_by_stage = dict(Counter(failures["stage"]).most_common())
    for table in LABEL_AMOUNTS:
        if summary.table(table):
            summary.labels[table] = _label_amounts(output, table)
    return summary
