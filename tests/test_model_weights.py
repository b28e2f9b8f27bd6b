"""pipeline/model_weights: weights named on the launcher, found on any worker."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from apache_beam.io.localfilesystem import LocalFileSystem

from posebeam.models.checkpoints import verify_checkpoint
from posebeam.models.classifier import SHIPPED_CLASSIFIER
from posebeam.pipeline.model_weights import SHIPPED_WEIGHTS, local_weights, weights_reference
from posebeam.pipeline.usage import UsageError, check_reachable


class BucketFileSystem(LocalFileSystem):
    """``bucket://NAME/...`` → ``ROOT/NAME/...``: a remote-looking filesystem Beam finds by scheme."""

    root = Path("/nonexistent")

    @classmethod
    def scheme(cls) -> str:
        return "bucket"

    def open(self, path: str, *args: Any, **kwargs: Any) -> Any:
        return super().open(str(self.root / path.removeprefix("bucket://")), *args, **kwargs)


def test_references_name_shipped_weights_by_file_and_keep_everything_else() -> None:
    assert weights_reference("classifier", "shipped") == f"shipped:{SHIPPED_CLASSIFIER.name}"
    assert weights_reference("segmenter", None) is None and weights_reference("aligner", "none") is None
    assert weights_reference("aligner", "gs://b/a.safetensors") == "gs://b/a.safetensors"
    for role, path in SHIPPED_WEIGHTS.items():
        reference = weights_reference(role, "shipped")
        assert reference is not None and Path(local_weights(reference)) == path and path.is_file()
    with pytest.raises(ValueError, match=r"ships no weights called x\.safetensors"):
        local_weights("shipped:x.safetensors")


def test_remote_weights_are_fetched_with_their_card_and_verified(tmp_path: Path) -> None:
    BucketFileSystem.root = tmp_path
    (tmp_path / "models").mkdir()
    shutil.copy(SHIPPED_CLASSIFIER, tmp_path / "models" / "mine.safetensors")
    shutil.copy(SHIPPED_CLASSIFIER.with_suffix(".json"), tmp_path / "models" / "mine.json")
    local = local_weights("bucket://models/mine.safetensors")
    assert Path(local).name == "mine.safetensors" and not local.startswith(str(tmp_path))
    assert verify_checkpoint(local)["sha256"] == verify_checkpoint(SHIPPED_CLASSIFIER)["sha256"]
    (tmp_path / "models" / "lost.safetensors").write_bytes(b"x")  # no card beside it
    with pytest.raises(ValueError, match="no model card"):
        verify_checkpoint(local_weights("bucket://models/lost.safetensors"))
    with pytest.raises(FileNotFoundError, match=r"cannot read bucket://models/gone\.safetensors"):
        local_weights("bucket://models/gone.safetensors")


def test_remote_runners_are_refused_paths_only_this_machine_has() -> None:
    shipped = ("classifier weights", f"shipped:{SHIPPED_CLASSIFIER.name}")
    remote = ("segmenter weights", "gs://bucket/seg.safetensors")
    local = ("aligner weights", "/home/me/aligner.safetensors")
    check_reachable([shipped, remote, local], "FnApiRunner", None)
    check_reachable([shipped, remote, local], "PortableRunner", "LOOPBACK")
    check_reachable([shipped, remote], "DataflowRunner", None)
    with pytest.raises(
        UsageError, match=r"aligner weights /home/me/aligner\.safetensors is on this.*model card"
    ):
        check_reachable([shipped, local], "DataflowRunner", None)
    with pytest.raises(
        UsageError, match=r"^the input videos/ is on this machine, which DataflowRunner's workers"
    ):
        check_reachable([("input", "videos/"), remote], "DataflowRunner", None)
