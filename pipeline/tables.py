"""``WriteTables``: every output table as a zstd Parquet dataset, published atomically.

Each table is a folder (``OUTPUT/videos/``, ``OUTPUT/keypoints/`` …) of ``part-*.parquet`` files
sharing one explicit schema from :mod:`posebeam.schemas.tables`, with the schema version in the
file metadata. A run writes its tables under ``OUTPUT/_staging/<run id>/``; once every table is
complete, one ``PublishTables`` step swaps them in for the previous run's, so a reader sees the
old tables or the new ones, never a mix or a half-written file, and a rerun leaves no stale parts
(no duplicate rows). Locally each table folder is replaced by one rename; on object stores
(``gs://``) file by file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam import PCollection, PTransform
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.parquetio import WriteToParquet, WriteToParquetBatched

from posebeam.schemas.tables import TABLES, check_schema_version

log = logging.getLogger(__name__)

ARROW_TABLES = frozenset({"keypoints"})
"""Tables whose elements are Arrow tables (one per video) rather than dict rows."""

STAGING_FOLDER = "_staging"


def staging_dir(output: str, run_id: str) -> str:
    return FileSystems.join(output, STAGING_FOLDER, run_id)


def _is_local(path: str) -> bool:
    return "://" not in path


def publish_tables(output: str, run_id: str, tables: list[str]) -> None:
    """Replace ``OUTPUT/<table>`` by the staged copy of each table, then drop the staging folder."""
    staged = staging_dir(output, run_id)
    for table in tables:
        new, final = FileSystems.join(staged, table), FileSystems.join(output, table)
        if _is_local(output):
            if os.path.isdir(final):
                retired = FileSystems.join(staged, f"replaced-{table}")
                os.replace(final, retired)
            os.replace(new, final)
            continue
        old_files = [m.path for m in FileSystems.match([FileSystems.join(final, "*")])[0].metadata_list]
        if old_files:
            FileSystems.delete(old_files)
        new_files = [m.path for m in FileSystems.match([FileSystems.join(new, "*")])[0].metadata_list]
        FileSystems.rename(new_files, [FileSystems.join(final, os.path.basename(p)) for p in new_files])
    if _is_local(output):
        shutil.rmtree(staged, ignore_errors=True)
        with contextlib.suppress(OSError):  # other runs may still be staging
            os.rmdir(os.path.dirname(staged))
    else:
        FileSystems.delete([staged])
    log.info("published %s under %s", ", ".join(tables), output)


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


def read_table(output: str, table: str) -> pa.Table:
    """Read a published table, refusing files written with an incompatible schema version."""
    files = sorted(
        m.path for m in FileSystems.match([FileSystems.join(output, table, "*.parquet")])[0].metadata_list
    )
    if not files:
        raise FileNotFoundError(f"no {table} table under {output}")
    parts = []
    for path in files:
        with FileSystems.open(path) as handle:
            part = pq.read_table(pa.BufferReader(handle.read()))
        check_schema_version(part.schema, table)
        parts.append(part)
    return pa.concat_tables(parts)
