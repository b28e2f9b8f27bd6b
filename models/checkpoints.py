"""Safe checkpoints: safetensors weights with their model card inside, and a JSON copy beside them.

The card describes the model (architecture, classes, skeleton layout, clip spec, training,
metrics). It is stored in the safetensors header's metadata, so the file's SHA-256 covers the
weights and the card together; ``<name>.json`` next to ``<name>.safetensors`` is a readable copy
that adds the file's name and that hash.

Loading never unpickles: a pickle-based file (``torch.save`` output, ``.pt``/``.pth``/``.ckpt``)
is refused before anything in it is read. Weights whose hash differs from the JSON card's, and a
JSON card whose content differs from the one inside the weights (renamed classes, say), are
refused too.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load, save_file

PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")  # raw pickle protocol 2+, torch.save's zip container
CARD_KEY = "posebeam.card"
"""The safetensors metadata key holding the model card (JSON)."""
FILE_ENTRIES = ("weights", "sha256")
"""Entries of the JSON copy that describe the file rather than the model."""


class UnsafeCheckpoint(ValueError):
    """The file is not a verified safetensors checkpoint."""


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def card_path(weights: str | Path) -> Path:
    return Path(weights).with_suffix(".json")


def save_checkpoint(
    state_dict: dict[str, torch.Tensor], weights: str | Path, card: dict[str, Any]
) -> dict[str, Any]:
    """Write ``weights`` (safetensors, the card inside) and the JSON copy of the card with the
    file's sha256; returns that copy."""
    weights = Path(weights)
    if weights.suffix != ".safetensors":
        raise ValueError(f"checkpoint names end in .safetensors, got {weights.name}")
    weights.parent.mkdir(parents=True, exist_ok=True)
    model_card = {k: v for k, v in card.items() if k not in FILE_ENTRIES}
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in state_dict.items()}
    save_file(tensors, str(weights), metadata={CARD_KEY: json.dumps(model_card, sort_keys=True)})
    card = {**model_card, "weights": weights.name, "sha256": file_sha256(weights)}
    card_path(weights).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    return card


def verify_checkpoint(weights: str | Path) -> dict[str, Any]:
    """The verified model card of ``weights`` (the one inside the file, plus its name and sha256),
    without loading the tensors.

    Raises :class:`UnsafeCheckpoint` for a pickle-based file, a missing card, a hash mismatch, or a
    JSON card that differs from the card inside the weights.
    """
    weights = Path(weights)
    if not weights.is_file():
        raise UnsafeCheckpoint(f"{weights} is not a file")
    with open(weights, "rb") as handle:
        head = handle.read(4)
    if head.startswith(PICKLE_MAGIC) or weights.suffix in {".pt", ".pth", ".ckpt", ".pkl", ".bin"}:
        raise UnsafeCheckpoint(
            f"{weights} is a pickle-based checkpoint; posebeam only loads .safetensors weights with a "
            "model card, because unpickling runs code from the file"
        )
    card_file = card_path(weights)
    if not card_file.is_file():
        raise UnsafeCheckpoint(f"{weights} has no model card {card_file.name} to verify it against")
    try:
        card = json.loads(card_file.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UnsafeCheckpoint(f"the model card {card_file} is not valid JSON: {err}") from None
    actual, expected = file_sha256(weights), str(card.get("sha256"))
    if expected != actual:
        raise UnsafeCheckpoint(
            f"{weights} has sha256 {actual[:16]}…, but its model card expects {expected[:16]}…; "
            "the file was changed or replaced"
        )
    try:
        with safe_open(str(weights), framework="pt") as opened:
            metadata = opened.metadata() or {}
    except Exception as err:  # noqa: BLE001 - any unreadable header is refused the same way
        raise UnsafeCheckpoint(f"{weights} is not a readable safetensors file: {err}") from None
    if CARD_KEY not in metadata:
        raise UnsafeCheckpoint(
            f"{weights} holds no model card of its own (it was saved by an older posebeam): save it "
            "again with posebeam.models.checkpoints.save_checkpoint"
        )
    inside = json.loads(metadata[CARD_KEY])
    beside = {k: v for k, v in card.items() if k not in FILE_ENTRIES}
    if beside != inside:
        changed = sorted(k for k in inside.keys() | beside.keys() if inside.get(k) != beside.get(k))
        raise UnsafeCheckpoint(
            f"the model card {card_file.name} differs from the card inside {weights.name} "
            f"({', '.join(changed)}): it was edited after saving"
        )
    return {**inside, "weights": weights.name, "sha256": actual}


def load_checkpoint(weights: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The verified state dict and model card of ``weights`` (see :func:`verify_checkpoint`); the
    tensors come from the very bytes whose hash was checked."""
    card = verify_checkpoint(weights)
    data = Path(weights).read_bytes()
    if hashlib.sha256(data).hexdigest() != card["sha256"]:
        raise UnsafeCheckpoint(f"{weights} changed while it was being loaded")
    return load(data), card
