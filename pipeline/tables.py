"""``WriteTables``: every output table as a zstd Parquet dataset under one output folder.

Each table is a folder (``OUTPUT/videos/``, ``OUTPUT/keypoints/`` …) of ``part-*.parquet`` files
that share one explicit schema from :mod:`posebeam.schemas.tables`, with the schema version in the
file metadata. Beam's file sink writes to a temporary folder and renames on finalisation, so a
half-written file never appears under the table's name.
"""

from __future__ import annotations

from apache_beam import PCollection, PTransform
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.parquetio import WriteToParquet, WriteToParquetBatched

from posebeam.schemas.tables import TABLES

ARROW_TABLES = frozenset({"keypoints"})
"""Tables whose elements are Arrow tables (one per video) rather than dict rows."""


def table_prefix(output: str, table: str) -> str:
    return FileSystems.join(output, table, "part")


class WriteTables(PTransform):
    """Writes ``{table name: PCollection}``; returns ``{table name: PCollection of file names}``."""

    def __init__(self, output: str) -> None:
        super().__init__()
        self._output = output

    def expand(self, tables: dict[str, PCollection]) -> dict[str, PCollection]:
        written = {}
        for name, pcoll in tables.items():
            sink_cls = WriteToParquetBatched if name in ARROW_TABLES else WriteToParquet
            written[name] = pcoll | f"Write{name.title().replace('_', '')}" >> sink_cls(
                table_prefix(self._output, name),
                schema=TABLES[name],
                codec="zstd",
                file_name_suffix=".parquet",
            )
        return written

    def default_label(self) -> str:
        return "WriteTables"
