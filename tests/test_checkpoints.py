"""Safe loading: safetensors + model card with sha256; pickle files and tampering are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from posebeam.models.checkpoints import UnsafeCheckpoint, load_checkpoint, save_checkpoint


def _state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return torch.nn.Linear(4, 3).state_dict()


def test_round_trip_keeps_weights_and_card(tmp_path: Path) -> None:
    card = save_checkpoint(_state(), tmp_path / "m.safetensors", {"classes": ["a", "b", "c"]})
    state, loaded = load_checkpoint(tmp_path / "m.safetensors")
    assert loaded == card and loaded["classes"] == ["a", "b", "c"] and len(card["sha256"]) == 64
    torch.testing.assert_close(state["weight"], _state()["weight"])


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    weights = tmp_path / "m.safetensors"
    save_checkpoint(_state(), weights, {})
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(UnsafeCheckpoint, match="the file was changed or replaced"):
        load_checkpoint(weights)


@pytest.mark.parametrize("name", ["model.pth", "model.safetensors"])
def test_pickle_files_are_refused_without_being_read(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    torch.save(_state(), path)  # a zip of pickles, whatever the name says
    (tmp_path / "model.json").write_text(json.dumps({"sha256": "0" * 64}))
    with pytest.raises(UnsafeCheckpoint, match="pickle-based checkpoint"):
        load_checkpoint(path)


def test_weights_without_a_card_are_refused(tmp_path: Path) -> None:
    weights = tmp_path / "m.safetensors"
    save_checkpoint(_state(), weights, {})
    (tmp_path / "m.json").unlink()
    with pytest.raises(UnsafeCheckpoint, match="no model card"):
        load_checkpoint(weights)


def test_a_card_edited_after_saving_is_refused(tmp_path: Path) -> None:
    """Renaming the classes beside the weights would relabel every prediction under the same hash."""
    weights = tmp_path / "m.safetensors"
    save_checkpoint(_state(), weights, {"classes": ["a", "b", "c"]})
    card = json.loads((tmp_path / "m.json").read_text())
    (tmp_path / "m.json").write_text(json.dumps({**card, "classes": ["walk", "run", "jump"]}))
    with pytest.raises(UnsafeCheckpoint, match=r"differs from the card inside m.safetensors \(classes\)"):
        load_checkpoint(weights)


def test_the_hash_covers_the_card_inside_the_weights(tmp_path: Path) -> None:
    a = save_checkpoint(_state(), tmp_path / "a.safetensors", {"classes": ["x", "y", "z"]})
    b = save_checkpoint(_state(), tmp_path / "b.safetensors", {"classes": ["z", "y", "x"]})
    assert a["sha256"] != b["sha256"], "same tensors, other card: another checkpoint"


def test_weights_saved_without_a_card_inside_are_refused(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from posebeam.models.checkpoints import file_sha256

    weights = tmp_path / "old.safetensors"
    save_file(_state(), str(weights))
    (tmp_path / "old.json").write_text(json.dumps({"classes": ["a"], "sha256": file_sha256(weights)}))
    with pytest.raises(UnsafeCheckpoint, match="holds no model card of its own"):
        load_checkpoint(weights)


def test_the_shipped_classifier_verifies() -> None:
    from posebeam.models.checkpoints import verify_checkpoint
    from posebeam.models.classifier import SHIPPED_CLASSIFIER

    card = verify_checkpoint(SHIPPED_CLASSIFIER)
    assert card["architecture"] == "pose_slowonly" and len(card["classes"]) == 13
    assert "walk" in card["classes"] and "stand" in card["classes"]
    assert card["calibration"]["temperature"] > 0 and card["seen"] and card["not_seen"]
    metrics = card["metrics"]
    assert metrics["held_out"]["top1"] > metrics["baseline_logistic_regression_top1"] > metrics["chance"]


def test_the_shipped_segmenter_verifies_and_beats_its_per_frame_baseline_by_a_wide_margin() -> None:
    from posebeam.models.checkpoints import verify_checkpoint
    from posebeam.models.segment_track import SHIPPED_SEGMENTER, load_segmenter

    card = verify_checkpoint(SHIPPED_SEGMENTER)
    assert (
        card["architecture"] == "heatmap_mstcn"
        and card["classes"]
        == verify_checkpoint(SHIPPED_SEGMENTER.with_name("pose_slowonly_mocap.safetensors"))["classes"]
    )
    assert card["clip"]["fps"] == 15 and card["seen"] and card["not_seen"]
    assert (
        card["calibration"]["temperature"] > 1
        and card["calibration"]["ece_calibrated"] < card["calibration"]["ece_raw"]
    )
    held_out = card["metrics"]["held_out"]
    baseline = held_out["per_frame_baseline"]
    assert held_out["edit"] > baseline["edit"] + 40 and held_out["f1@50"] > baseline["f1@50"] + 40
    assert held_out["accuracy"] > baseline["accuracy"] > held_out["majority_class_accuracy"]
    load_segmenter(SHIPPED_SEGMENTER)  # tensors match the card


def test_the_shipped_aligner_verifies_and_its_card_holds_the_protocol_next_to_the_baselines() -> None:
    from posebeam.models.aligner import SHIPPED_ALIGNER, load_aligner
    from posebeam.models.checkpoints import verify_checkpoint
    from posebeam.schemas.tables import EMBEDDING_DIM

    card = verify_checkpoint(SHIPPED_ALIGNER)
    assert card["architecture"] == "space_time_aligner" and card["clip"]["embedding_dim"] == EMBEDDING_DIM
    assert card["clip"]["fps"] == 15 and card["seen"] and card["not_seen"]
    held_out = card["metrics"]["held_out"]
    assert held_out["aligner"]["actions"] == held_out["baseline"]["actions"] >= 10
    assert held_out["aligner"]["kendalls_tau"] > held_out["baseline"]["kendalls_tau"] + 0.3
    load_aligner(SHIPPED_ALIGNER)  # tensors match the card
