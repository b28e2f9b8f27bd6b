"""Model weights named on the launcher and opened on whichever machine runs the stage.

A job's configs hold a *reference* to each model's weights, never a path that only makes sense on
the launching machine:

- ``shipped:<file name>``: weights packaged with posebeam (``models/weights/``), found on a worker
  in its own installed package, wherever pip put it;
- a URI with a scheme (``gs://bucket/models/seg.safetensors``): read through Beam's
  ``FileSystems``, together with its model card (``.json`` beside it), into a local cache once per
  process, then verified like a local file;
- a local path: used as it is (local runners only: a remote runner's workers cannot see it, which
  :func:`~posebeam.pipeline.usage.check_reachable` says before the job starts).
"""

from __future__ import annotations

import functools
import hashlib
import os
import posixpath
import shutil
import tempfile
from pathlib import Path

from apache_beam.io.filesystems import FileSystems

from posebeam.models.aligner import SHIPPED_ALIGNER
from posebeam.models.checkpoints import card_path
from posebeam.models.classifier import SHIPPED_CLASSIFIER
from posebeam.models.segment_track import SHIPPED_SEGMENTER
from posebeam.storage.uris import is_local

SHIPPED = "shipped"
SHIPPED_PREFIX = "shipped:"
SHIPPED_WEIGHTS = {
    "classifier": SHIPPED_CLASSIFIER,
    "segmenter": SHIPPED_SEGMENTER,
    "aligner": SHIPPED_ALIGNER,
}
"""Each role's packaged weights (``--classifier shipped`` etc.)."""


def weights_reference(role: str, value: str | None) -> str | None:
    """The reference a config holds for ``--ROLE value``: None for no value or 'none';
    ``shipped:<file>`` for 'shipped'; anything else unchanged."""
    if not value or value == "none":
        return None
    if value == SHIPPED:
        return SHIPPED_PREFIX + SHIPPED_WEIGHTS[role].name
    return value


def _card_uri(uri: str) -> str:
    stem, _ = posixpath.splitext(uri)
    return stem + ".json"


@functools.lru_cache(maxsize=16)
def _fetched(uri: str) -> str:
    folder = Path(tempfile.gettempdir()) / "posebeam-weights" / hashlib.sha256(uri.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    local = folder / uri.rstrip("/").rsplit("/", 1)[-1]
    for source, target in ((uri, local), (_card_uri(uri), card_path(local))):
        target.unlink(missing_ok=True)  # never verify an earlier run's copy
        partial = target.with_name(target.name + f".partial-{os.getpid()}")
        try:
            with FileSystems.open(source) as remote, open(partial, "wb") as handle:
                shutil.copyfileobj(remote, handle, 1 << 20)
        except Exception as err:  # noqa: BLE001 - any filesystem's error, reported in one line
            partial.unlink(missing_ok=True)
            if source == uri:
                raise FileNotFoundError(
                    f"cannot read {uri}: {str(err).splitlines()[0] if str(err) else err!r}"
                ) from None
            continue  # a missing card: verification refuses the weights and says so
        partial.replace(target)
    return str(local)


def local_weights(reference: str) -> str:
    """A local file for ``reference`` (module doc). The checkpoint loaders verify what it holds."""
    if reference.startswith(SHIPPED_PREFIX):
        name = reference.removeprefix(SHIPPED_PREFIX)
        shipped = {path.name: path for path in SHIPPED_WEIGHTS.values()}
        if name not in shipped:
            raise ValueError(
                f"posebeam ships no weights called {name} (it ships {', '.join(sorted(shipped))})"
            )
        return str(shipped[name])
    if not is_local(reference):
        return _fetched(reference)
    return reference
