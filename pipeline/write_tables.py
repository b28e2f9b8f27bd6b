"""``WriteTables``: every output table as a zstd Parquet dataset, published atomically.

A run writes each table's ``part-*.parquet`` files, with the schema from
:mod:`posebeam.schemas.tables` and its version in the file metadata, under
``OUTPUT/_staging/<run id>/``; once every table is complete, one ``PublishTables`` step swaps them
all in (:func:`posebeam.storage.parquet_tables.publish_tables`): no half-written file is ever
visible under a table's name and a rerun leaves no stale parts (no duplicate rows).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam import PCollection, PTransform
from apache_beam.io.filebasedsink import FileBasedSink
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.gcp.bigquery import BigQueryDisposition, WriteToBigQuery
from apache_beam.io.gcp.bigquery_tools import FileFormat
from apache_beam.io.iobase import Write
from apache_beam.io.parquetio import WriteToParquet

from posebeam.schemas.tables import KEYPOINTS, TABLES, bigquery_schema
from posebeam.storage.parquet_tables import parquet_options, publish_tables, staging_dir, stored

ROW_GROUP_ROWS = 131_072
"""Keypoints rows buffered per row group (videos are gathered until then; row groups' statistics
let readers skip the videos they do not ask for)."""


class _KeypointsFile(NamedTuple):
    handle: Any
    writer: pq.ParquetWriter
    pending: list[pa.Table]


class KeypointsSink(FileBasedSink):
    """Writes the per-video :data:`~posebeam.schemas.tables.KEYPOINT_ROWS` tables in their stored
    columns and encodings (:func:`~posebeam.storage.parquet_tables.parquet_options`); Beam's
    Parquet sinks take no per-column encodings."""

    def __init__(self, file_path_prefix: str) -> None:
        super().__init__(
            file_path_prefix, coder=None, file_name_suffix=".parquet",
            compression_type=CompressionTypes.UNCOMPRESSED,
        )  # fmt: skip

    def open(self, temp_path: str) -> _KeypointsFile:
        handle = super().open(temp_path)
        return _KeypointsFile(handle, pq.ParquetWriter(handle, KEYPOINTS, **parquet_options("keypoints")), [])

    def write_record(self, file: _KeypointsFile, rows: pa.Table) -> None:
        file.pending.append(rows)
        if sum(t.num_rows for t in file.pending) >= ROW_GROUP_ROWS:
            self._write_pending(file)

    @staticmethod
    def _write_pending(file: _KeypointsFile) -> None:
        if file.pending:
            file.writer.write_table(stored("keypoints", pa.concat_tables(file.pending)))
            file.pending.clear()

    def close(self, file: _KeypointsFile) -> None:
        self._write_pending(file)
        file.writer.close()
        file.handle.close()


class WriteTables(PTransform):
    """Writes ``{table name: PCollection}`` to staging, then publishes them all at once."""

    def __init__(self, output: str, run_id: str) -> None:
        super().__init__()
        self._output = output
        self._run_id = run_id

    def expand(self, tables: dict[str, PCollection]) -> PCollection:
        staged = staging_dir(self._output, self._run_id)
        written = []
        for name, pcoll in tables.items():
            prefix = FileSystems.join(staged, name, "part")
            sink = (
                Write(KeypointsSink(prefix)) if name == "keypoints"
                else WriteToParquet(prefix, schema=TABLES[name], codec="zstd", file_name_suffix=".parquet")
            )  # fmt: skip
            written.append(pcoll | f"Write{name.title().replace('_', '')}" >> sink)
        output, run_id, names = self._output, self._run_id, sorted(tables)
        return (
            written
            | "AllTablesWritten" >> beam.Flatten()
            | "CountFiles" >> beam.combiners.Count.Globally()
            | "PublishTables" >> beam.Map(lambda _: publish_tables(output, run_id, names))
        )


def _stored_rows(rows: pa.Table) -> list[dict[str, Any]]:
    return stored("keypoints", rows).to_pylist()


class WriteBigQueryTables(PTransform):
    """Writes ``{table name: PCollection}`` to BigQuery dataset ``PROJECT:DATASET`` (or
    ``PROJECT.DATASET``) with file loads (Avro), one table per output table with the columns of its
    Parquet files (:func:`~posebeam.schemas.tables.bigquery_schema`), each replaced by this run's
    rows, as the Parquet tables are."""

    def __init__(self, dataset: str) -> None:
        super().__init__()
        self._dataset = dataset.replace(".", ":", 1) if ":" not in dataset else dataset

    def expand(self, tables: dict[str, PCollection]) -> list[PCollection]:
        loads = []
        for name, pcoll in tables.items():
            title = name.title().replace("_", "")
            rows = (
                pcoll | f"BigQueryRows{title}" >> beam.FlatMap(_stored_rows) if name == "keypoints" else pcoll
            )
            loads.append(
                rows
                | f"BigQuery{title}"
                >> WriteToBigQuery(
                    f"{self._dataset}.{name}",
                    schema=bigquery_schema(TABLES[name]),
                    method=WriteToBigQuery.Method.FILE_LOADS,
                    temp_file_format=FileFormat.AVRO,
                    create_disposition=BigQueryDisposition.CREATE_IF_NEEDED,
                    write_disposition=BigQueryDisposition.WRITE_TRUNCATE,
                )
            )
        return loads
