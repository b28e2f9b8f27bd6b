"""Turning the INPUT argument into input files, through Beam ``FileSystems`` (local, gs://).

INPUT is a folder (its files with a video extension), a glob, or a list file (``.txt``, ``.lst``,
``.uris``) naming one file or glob per line. Every input ends in exactly one of ``videos`` or
``failures``, every list line included:

- a list may start with a UTF-8 byte-order mark and use CRLF line ends; blank lines and lines whose
  first non-blank character is ``#`` are skipped;
- a line naming an existing file is that file, even when its name holds glob characters
  (``[``, ``*``, ``?``); otherwise the line is a glob;
- a line naming a missing file, or a glob matching nothing, becomes a ``failures`` row (stage
  ``read``) that names the line;
- a file listed twice, or matched by two patterns, is processed once.
"""

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


@dataclass(frozen=True)
class InputPattern:
    """One file or glob to match; ``line`` says where a list file named it (None otherwise)."""

    pattern: str
    from_folder: bool = False
    line: str | None = None


def _is_directory(path: str) -> bool:
    if path.endswith("/"):
        return True
    if "://" in path:
        return False
    return os.path.isdir(path)


def _list_lines(list_uri: str) -> list[InputPattern]:
    if not FileSystems.exists(list_uri):
        raise UsageError(f"input list {list_uri} does not exist")
    with FileSystems.open(list_uri) as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"input list {list_uri} is not UTF-8 text") from None
    name = posixpath.basename(list_uri)
    patterns = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.strip()
        if entry and not entry.startswith("#"):
            patterns.append(InputPattern(entry, line=f"line {number} of {name}"))
    if not patterns:
        raise UsageError(f"input list {list_uri} names no files")
    return patterns


def input_patterns(input_arg: str) -> list[InputPattern]:
    """The patterns of a folder, a glob, or a list file naming one file or glob per line."""
    if _is_directory(input_arg):
        return [InputPattern(FileSystems.join(input_arg.rstrip("/"), "*"), from_folder=True)]
    if input_arg.lower().endswith(LIST_EXTENSIONS):
        return _list_lines(input_arg)
    return [InputPattern(input_arg)]


def has_video_extension(path: str) -> bool:
    return posixpath.splitext(path.lower())[1] in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class MatchedInputs:
    """Files to process, and entries that match but cannot be read as files or match nothing."""

    files: list[FileMetadata]
    rejected: list[tuple[str, str]]  # (path or list line, reason)

    def __len__(self) -> int:
        return len(self.files) + len(self.rejected)


def _unreadable_reason(path: str) -> str:
    if os.path.isdir(path):
        return "this is a directory, not a video file"
    if os.path.islink(path) and not os.path.exists(path):
        return f"broken symbolic link to {os.readlink(path)}"
    return "the file cannot be read"


def _local_rejects(pattern: InputPattern, listed: set[str]) -> list[tuple[str, str]]:
    """Entries a local glob names that Beam's match skips silently (folders, broken links)."""
    if "://" in pattern.pattern:
        return []
    rejects = []
    for path in sorted(glob.glob(pattern.pattern, recursive=True)):
        if path in listed or (pattern.from_folder and not has_video_extension(path)):
            continue
        rejects.append((path, _unreadable_reason(path)))
    return rejects


def _literal_file(pattern: str) -> FileMetadata | None:
    """The file named exactly ``pattern`` (glob characters and all), if there is one."""
    try:
        if not FileSystems.exists(pattern):
            return None
        if "://" not in pattern and not os.path.isfile(pattern):
            return None
        metadata: FileMetadata = FileSystems.get_filesystem(pattern).metadata(pattern)
    except (OSError, ValueError):
        return None
    return metadata


def _match(pattern: InputPattern) -> tuple[list[FileMetadata], list[tuple[str, str]]]:
    literal = None if pattern.from_folder else _literal_file(pattern.pattern)
    if literal is not None:
        return [literal], []
    found = FileSystems.match([pattern.pattern])[0].metadata_list
    files = [m for m in found if not pattern.from_folder or has_video_extension(m.path)]
    rejects = _local_rejects(pattern, {m.path for m in found})
    if not files and not rejects and pattern.line is not None:
        glob_like = any(c in pattern.pattern for c in "*?[")
        reason = "the pattern matches no file" if glob_like else "there is no such file"
        rejects = [(pattern.pattern, f"listed on {pattern.line}, but {reason}")]
    return files, rejects


def _same_file_key(path: str) -> str:
    """One key for the spellings of a local path (``a/./b``, ``a//b``); URIs as they are."""
    return path if "://" in path else os.path.normpath(os.path.abspath(path))


def match_inputs(patterns: list[InputPattern]) -> MatchedInputs:
    """All inputs, each once (launcher-side); :class:`UsageError` when there are none."""
    files: dict[str, FileMetadata] = {}
    rejected: dict[str, tuple[str, str]] = {}
    for pattern in patterns:
        matched, rejects = _match(pattern)
        for metadata in matched:
            files.setdefault(_same_file_key(metadata.path), metadata)
        for path, reason in rejects:
            rejected.setdefault(_same_file_key(path), (path, reason))
    if not files and not rejected:
        raise UsageError(f"no input videos match {', '.join(p.pattern for p in patterns)}")
    return MatchedInputs(list(files.values()), [entry for key, entry in rejected.items() if key not in files])
