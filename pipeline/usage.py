"""Usage errors and the argument types that catch them before a job starts.

A :class:`UsageError` is reported by the CLI as one line with exit status 2. The argument types
refuse what would only fail later: non-finite numbers (``nan``, ``inf``), zero or negative
counts.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Iterable
from typing import TypeVar

from posebeam.storage.uris import is_local

MIN_FRAME_SIDE = 128
T = TypeVar("T", int, float)


class UsageError(ValueError):
    """A mistake in the command line: reported as one line, exit status 2."""


def check_output_folder(output: str) -> None:
    """Create a local output folder and check it is writable; URIs (``gs://``) are left to the job."""
    if "://" in output:
        return
    try:
        os.makedirs(output, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create output folder {output}: {err.strerror or err}") from None
    if not os.access(output, os.W_OK):
        raise UsageError(f"output folder {output} is not writable")


LOCAL_RUNNERS = frozenset(
    {"FnApiRunner", "DirectRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner", "PrismRunner"}
)
"""Runners whose workers share the launcher's files; so does the PortableRunner with LOOPBACK."""


def is_local_runner(runner: str, environment: str | None) -> bool:
    """Whether the runner's workers run on this machine (and share its files)."""
    return runner in LOCAL_RUNNERS or (runner == "PortableRunner" and environment == "LOOPBACK")


def check_reachable(paths: Iterable[tuple[str, str | None]], runner: str, environment: str | None) -> None:
    """A one-line :class:`UsageError` when a remote runner's workers would be given a path that
    exists only on this machine; ``paths`` are ``(what, path)``, e.g. ``("input", "videos/")``.
    URIs (``gs://``) and ``shipped:`` weights are reachable everywhere."""
    if is_local_runner(runner, environment):
        return
    for what, path in paths:
        if path and is_local(path) and not path.startswith("shipped:"):
            hint = "and their model card (.json beside them) " if "weights" in what else ""
            raise UsageError(
                f"the {what} {path} is on this machine, which {runner}'s workers cannot read: copy it "
                f"{hint}to a bucket and pass its gs:// URI"
            )


def bigquery_dataset(text: str) -> str:
    """``PROJECT:DATASET`` or ``PROJECT.DATASET`` (BigQuery's names: a project id, then letters,
    digits and underscores)."""
    if not re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9][:.][A-Za-z0-9_]{1,1024}", text):
        raise argparse.ArgumentTypeError(f"expected PROJECT:DATASET (e.g. my-project:posebeam), got {text!r}")
    return text


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _require(value: T, holds: bool, text: str, requirement: str) -> T:
    if not holds:
        raise argparse.ArgumentTypeError(f"must be {requirement}, got {text}")
    return value


def positive_float(text: str) -> float:
    value = _finite(text)
    return _require(value, value > 0, text, "positive")


def non_negative_float(text: str) -> float:
    value = _finite(text)
    return _require(value, value >= 0, text, "0 or more")


def fraction(text: str) -> float:
    """A number strictly between 0 and 1."""
    value = _finite(text)
    return _require(value, 0 < value < 1, text, "between 0 and 1")


def share(text: str) -> float:
    """A number from 0 to 1, both included."""
    value = _finite(text)
    return _require(value, 0 <= value <= 1, text, "from 0 to 1")


def positive_int(text: str) -> int:
    value = _integer(text)
    return _require(value, value > 0, text, "positive")


def non_negative_int(text: str) -> int:
    value = _integer(text)
    return _require(value, value >= 0, text, "0 or more")


def frame_side(text: str) -> int:
    """A frame side for ``--max-side``: at least :data:`MIN_FRAME_SIDE` pixels."""
    value = _integer(text)
    requirement = f"at least {MIN_FRAME_SIDE} pixels (people in smaller frames are too small to detect)"
    return _require(value, value >= MIN_FRAME_SIDE, text, requirement)
