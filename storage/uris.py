"""Local paths and URIs (``gs://``, ``s3://``, ``hdfs://``) through pyarrow's filesystems, without Beam.

Beam's ``FileSystems`` serves the job itself (:mod:`posebeam.pipeline`); code that runs outside a
Beam job (training, ``synth``, reading tables back) opens files here.
"""

from __future__ import annotations

import os
import posixpath
from typing import IO

import pyarrow.fs as pafs


def is_local(uri: str) -> bool:
    return "://" not in uri


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem holding ``uri`` and the path inside it; raises ``ValueError`` for a scheme no
    filesystem reads (e.g. ``synth://``)."""
    if is_local(uri):
        return pafs.LocalFileSystem(), os.path.abspath(uri)
    return pafs.FileSystem.from_uri(uri)


def join(uri: str, *parts: str) -> str:
    return os.path.join(uri, *parts) if is_local(uri) else posixpath.join(uri, *parts)


def exists(uri: str) -> bool:
    """Whether a file or folder is at ``uri``; ``False`` for a scheme no filesystem reads."""
    try:
        fs, path = filesystem(uri)
    except ValueError:
        return False
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def open_input(uri: str) -> IO[bytes]:
    """A seekable binary file object for reading ``uri``."""
    fs, path = filesystem(uri)
    return fs.open_input_file(path)


def files_in(fs: pafs.FileSystem, path: str, suffix: str = "") -> list[pafs.FileInfo]:
    """The files directly inside the folder ``path`` of ``fs`` whose names end with ``suffix``,
    sorted by name (none when the folder does not exist)."""
    selector = pafs.FileSelector(path, allow_not_found=True)
    found = [
        i for i in fs.get_file_info(selector) if i.type == pafs.FileType.File and i.base_name.endswith(suffix)
    ]
    return sorted(found, key=lambda info: info.base_name)


def list_files(folder: str, suffix: str = "") -> list[str]:
    """The files directly inside ``folder`` whose names end with ``suffix``, sorted, as URIs."""
    fs, path = filesystem(folder)
    return [join(folder, info.base_name) for info in files_in(fs, path, suffix)]
