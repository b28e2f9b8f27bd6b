"""``WriteTables``: every output table as a zstd Parquet dataset, published atomically.

A run writes each table's ``part-*.parquet`` files, with the schema from
:mod:`posebeam.schemas.tables` and its version in the file metadata, under
``OUTPUT/_staging/<run id>/``; once every table is complete, one ``PublishTables`` step swaps them
all in (:func:`posebeam.storage.parquet_tables.publish_tables`): no half-written file is ever
visible under a table's name and a rerun leaves no stale parts (no duplicate rows).
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam import PCollection, PTransform
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.parquetio import WriteToParquet, WriteToParquetBatched

from posebeam.schemas.tables import TABLES
from posebeam.storage.parquet_tables import publish_tables, staging_dir

ARROW_TABLES = frozenset({"keypoints"})
"""Tables whose elements are Arrow tables (one per video) rather than dict rows."""


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
            sink_cls = WriteToParquetBatched if name in ARROW_TABLES else WriteToParquet
            written.append(
                pcoll
                | f"Write{name.title().replace('_', '')}"
                >> sink_cls(
                    FileSystems.join(staged, name, "part"),
                    schema=TABLES[name],
                    codec="zstd",
                    file_name_suffix=".parquet",
                )
            )
        output, run_id, names = self._output, self._run_id, sorted(tables)
        return (
            written
            | "AllTablesWritten" >> beam.Flatten()
            | "CountFiles" >> beam.combiners.Count.Globally()
            | "PublishTables" >> beam.Map(lambda _: publish_tables(output, run_id, names))
        )
