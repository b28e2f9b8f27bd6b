"""Turning the INPUT argument into file patterns, through Beam ``FileSystems`` (local, gs://)."""

from __future__ import annotations

import glob
import os
import posixpath
from dataclasses import dataclass

from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.filesystems import FileSystems

from posebeam.pipeline.usage import UsageError

VIDEO_EXTENSIONS = frozenset(
    [
        ".mp4",
        ".m4v",
        ".mov",
        ".avi",
        ".mkv",
        ".webm",
        ".mpg",
        ".mpeg",
        ".ts",
        ".mts",
        ".m2ts",
        ".flv",
        ".wmv",
        ".3gp",
        ".ogv",
        ".mxf",
        ".y4m",
    ]
)
"""Files of a *folder* input that are treated as videos; globs and URI lists are taken as given."""

LIST_EXTENSIONS = (".txt", ".lst", ".uris")


def _is_directory(path: str) -> bool:
    if path.endswith("/"):
        return True
    if "://" in path:
        return False
    return os.path.isdir(path)


def input_patterns(input_arg: str) -> list[str]:
    """File patterns for a folder, a glob, or a text file listing one URI or glob per line."""
    if _is_directory(input_arg):
        return [FileSystems.join(input_arg.rstrip("/"), "*")]
    if input_arg.lower().endswith(LIST_EXTENSIONS):
        if not FileSystems.exists(input_arg):
            raise UsageError(f"input list {input_arg} does not exist")
        with FileSystems.open(input_arg) as handle:
            lines = handle.read().decode("utf-8").splitlines()
        patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        if not patterns:
            raise UsageError(f"input list {input_arg} names no files")
        return patterns
    return [input_arg]


def has_video_extension(path: str) -> bool:
    return posixpath.splitext(path.lower())[1] in VIDEO_EXTENSIONS


def is_folder_pattern(pattern: str) -> bool:
    return pattern.endswith("/*")


def keep_input(metadata: FileMetadata, from_folder: bool) -> bool:
    """Whether a matched file is an input: any file of a glob or list, videos only from folders."""
    if not from_folder:
        return True
    return has_video_extension(metadata.path)


@dataclass(frozen=True)
class MatchedInputs:
    """Files to process, and local entries that match but cannot be read as files."""

    files: list[FileMetadata]
    rejected: list[tuple[str, str]]  # (path, reason)

    def __len__(self) -> int:
        return len(self.files) + len(self.rejected)


def _unreadable_reason(path: str) -> str:
    if os.path.isdir(path):
        return "this is a directory, not a video file"
    if os.path.islink(path) and not os.path.exists(path):
        return f"broken symbolic link to {os.readlink(path)}"
    return "the file cannot be read"


def _local_rejects(pattern: str, listed: set[str]) -> list[tuple[str, str]]:
    """Entries a local glob names that Beam's match skips silently (folders, broken links)."""
    if "://" in pattern:
        return []
    from_folder = is_folder_pattern(pattern)
    rejects = []
    for path in sorted(glob.glob(pattern, recursive=True)):
        if path in listed:
            continue
        if from_folder and not has_video_extension(path):
            continue
        rejects.append((path, _unreadable_reason(path)))
    return rejects


def match_inputs(patterns: list[str]) -> MatchedInputs:
    """All inputs (launcher-side); raises :class:`UsageError` when there are none."""
    files: list[FileMetadata] = []
    rejected: list[tuple[str, str]] = []
    for pattern, result in zip(patterns, FileSystems.match(patterns), strict=True):
        matched = [m for m in result.metadata_list if keep_input(m, is_folder_pattern(pattern))]
        files.extend(matched)
        rejected.extend(_local_rejects(pattern, {m.path for m in result.metadata_list}))
    if not files and not rejected:
        raise UsageError(f"no input videos match {', '.join(patterns)}")
    return MatchedInputs(files, rejected)
