"""Published tables on disk or in a bucket: reading them back, and the atomic swap that publishes them.

Each table is a folder (``OUTPUT/videos/``, ``OUTPUT/keypoints/`` …) of ``part-*.parquet`` files
sharing one explicit schema from :mod:`posebeam.schemas.tables`. Writers stage a run's tables under
``OUTPUT/_staging/<run id>/``; :func:`publish_tables` then swaps each one in for the previous run's,
so a reader sees the old tables or the new ones, never a mix or a half-written file, and a rerun
leaves no stale parts. Locally each table folder is replaced by one rename; on object stores
(``gs://``) file by file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import shutil
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from posebeam.schemas.records import STORED_ENCODING, keypoint_rows, stored_keypoints
from posebeam.schemas.tables import KEYPOINTS, check_schema_version
from posebeam.storage.uris import files_in, filesystem, is_local, join, list_files, open_input

log = logging.getLogger(__name__)

STAGING_FOLDER = "_staging"


def parquet_options(table: str) -> dict[str, Any]:
    """``pyarrow.parquet.ParquetWriter`` options of ``table``: zstd, and the stored keypoints'
    per-column encodings (:data:`~posebeam.schemas.records.STORED_ENCODING`), with min/max
    statistics only on the columns readers filter on (the other 56 would add 0.7 B per
    person-frame of footer on the sample clip)."""
    if table != "keypoints":
        return {"compression": "zstd"}
    dictionary = [name for name in KEYPOINTS.names if name not in STORED_ENCODING]
    return {
        "compression": "zstd",
        "use_dictionary": dictionary,
        "column_encoding": STORED_ENCODING,
        "write_statistics": ["video_id", "frame_index", "timestamp_s", "person_id"],
    }


def stored(table: str, rows: pa.Table) -> pa.Table:
    """What is written for ``table``: the keypoints in their stored columns, anything else as is."""
    return stored_keypoints(rows) if table == "keypoints" else rows


def readable(table: str, part: pa.Table) -> pa.Table:
    """What readers get for ``table``: the keypoints as :data:`~posebeam.schemas.tables.KEYPOINT_ROWS`."""
    return keypoint_rows(part) if table == "keypoints" and "keypoints" not in part.column_names else part


def write_parquet(table: str, rows: pa.Table, where: str) -> None:
    """One Parquet file of ``table`` at ``where`` (a local path)."""
    pq.write_table(stored(table, rows), where, **parquet_options(table))


def staging_dir(output: str, run_id: str) -> str:
    return join(output, STAGING_FOLDER, run_id)


def publish_tables(output: str, run_id: str, tables: list[str]) -> None:
    """Replace ``OUTPUT/<table>`` by the staged copy of each table, then drop the staging folder."""
    staged = staging_dir(output, run_id)
    if is_local(output):
        for table in tables:
            final = os.path.join(output, table)
            if os.path.isdir(final):
                os.replace(final, os.path.join(staged, f"replaced-{table}"))
            os.replace(os.path.join(staged, table), final)
        shutil.rmtree(staged, ignore_errors=True)
        with contextlib.suppress(OSError):  # other runs may still be staging
            os.rmdir(os.path.dirname(staged))
    else:  # one filesystem client, paths inside it
        fs, root = filesystem(output)
        staged_path = posixpath.join(root, STAGING_FOLDER, run_id)
        for table in tables:
            final = posixpath.join(root, table)
            for old in files_in(fs, final):
                fs.delete_file(old.path)
            for new in files_in(fs, posixpath.join(staged_path, table)):
                fs.move(new.path, posixpath.join(final, new.base_name))
        fs.delete_dir(staged_path)
    log.info("published %s under %s", ", ".join(tables), output)


def read_table(output: str, table: str, filters: list[tuple[str, str, Any]] | None = None) -> pa.Table:
    """Read a published table, refusing files written with an incompatible schema version;
    ``filters`` (pyarrow's DNF, e.g. ``[("video_id", "in", ids)]``) keep only the matching rows,
    skipping row groups whose statistics rule them out."""
    files = list_files(join(output, table), ".parquet")
    if not files:
        raise FileNotFoundError(f"no {table} table under {output}")
    parts = []
    for path in files:
        with open_input(path) as handle:
            part = pq.read_table(handle, filters=filters)
        check_schema_version(part.schema, table)
        parts.append(readable(table, part))
    return pa.concat_tables(parts)
