"""Turning the INPUT argument into input files, through Beam ``FileSystems`` (local, gs://),
inside the job: the job graph holds INPUT, never the list of what it names, so an archive of any
size launches as fast as a folder of one video (:class:`MatchInputs`; the launcher only checks that
INPUT names something, :func:`check_inputs`).

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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.filesystems import FileSystems

from posebeam.pipeline.extract import METRICS_NAMESPACE
from posebeam.pipeline.progress import record_event
from posebeam.pipeline.usage import UsageError
from posebeam.schemas.records import failure_row
from posebeam.storage.uris import is_local

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


def check_inputs(input_arg: str) -> None:
    """A one-line :class:`UsageError`, on the launcher, when INPUT names nothing: a list file that is
    missing, not UTF-8 or empty, or a folder or glob that matches no file (a local folder: no video
    and nothing unreadable). Matching itself happens in the job."""
    patterns = input_patterns(input_arg)
    if patterns[0].line is not None:
        return  # every line ends in videos or failures
    pattern = patterns[0]
    if not pattern.from_folder and _literal_file(pattern.pattern) is not None:
        return
    if pattern.from_folder and is_local(pattern.pattern):
        folder = input_arg.rstrip("/") or "/"
        with os.scandir(folder) as entries:
            if any(has_video_extension(e.name) or not e.is_file() for e in entries):
                return
    elif FileSystems.match([pattern.pattern], limits=[1])[0].metadata_list or _local_rejects(pattern, set()):
        return
    raise UsageError(f"no input videos match {pattern.pattern}")


def count_inputs(input_arg: str) -> int:
    """How many entries the job will account for (each ends in one ``videos`` or ``failures`` row):
    the same matching as :class:`MatchInputs`, on the launcher (for a local run's progress bar)."""
    return len({key for pattern in input_patterns(input_arg) for key, _ in _keyed_matches(pattern)})


def _keyed_matches(pattern: InputPattern) -> Iterator[tuple[str, tuple[str, str, FileMetadata | str]]]:
    files, rejects = _match(pattern)
    for metadata in files:
        yield _same_file_key(metadata.path), ("file", metadata.path, metadata)
    for path, reason in rejects:
        yield _same_file_key(path), ("rejected", path, reason)


def _one_per_file(
    key: str, entries: Iterable[tuple[str, str, FileMetadata | str]]
) -> Iterator[FileMetadata | beam.pvalue.TaggedOutput]:  # fmt: skip
    """The file once when some pattern matched it as a file, else its first rejection."""
    ordered = sorted(entries, key=lambda entry: (entry[0] != "file", entry[1]))
    kind, path, found = ordered[0]
    if kind == "file":
        assert isinstance(found, FileMetadata)
        yield found
    else:
        yield beam.pvalue.TaggedOutput(REJECTED, (path, str(found)))


REJECTED = "rejected"


def unreadable_failure(path: str, reason: str, progress_dir: str | None = None) -> dict[str, object]:
    """The ``failures`` row (stage ``read``) of an input rejected before decoding. It lives here,
    not in :mod:`~posebeam.pipeline.run`, so that workers running the extract job never import
    the model stages (and torch) that module wires in."""
    beam.metrics.Metrics.counter(METRICS_NAMESPACE, "failures").inc()
    record_event(progress_dir, inputs=1, failed=1)
    return failure_row(path, "read", reason)


class MatchInputs(beam.PTransform):
    """INPUT → every input file once (``FileMetadata``, the main output) and ``rejected``:
    ``(path or list line, reason)`` for entries that cannot be read as files or match nothing
    (module doc). The list file is read and each pattern matched on the workers."""

    def __init__(self, input_arg: str) -> None:
        super().__init__()
        self._input = input_arg

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.pvalue.DoOutputsTuple:
        return (
            pbegin
            | "Input" >> beam.Create([self._input])
            | "Patterns" >> beam.FlatMap(input_patterns)
            | "SpreadPatterns" >> beam.Reshuffle()
            | "Match" >> beam.FlatMap(_keyed_matches)
            | "SameFile" >> beam.GroupByKey()
            | "OncePerFile" >> beam.FlatMapTuple(_one_per_file).with_outputs(REJECTED, main="files")
        )
