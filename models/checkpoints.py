"""Safe checkpoints: safetensors weights plus a JSON model card that carries their SHA-256.

Loading never unpickles: a pickle-based file (``torch.save`` output, ``.pt``/``.pth``/``.ckpt``)
is refused before anything in it is read, and weights whose hash differs from the card's are
refused too. The card (``<name>.json`` next to ``<name>.safetensors``) describes the model:
classes, skeleton layout, sampling, input size, metrics, and the hash.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")  # raw pickle protocol 2+, torch.save's zip container


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
    """Write ``weights`` (safetensors) and its card with the weights' sha256; returns the card."""
    weights = Path(weights)
    if weights.suffix != ".safetensors":
        raise ValueError(f"checkpoint names end in .safetensors, got {weights.name}")
    weights.parent.mkdir(parents=True, exist_ok=True)
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in state_dict.items()}
    save_file(tensors, str(weights))
    card = {**card, "weights": weights.name, "sha256": file_sha256(weights)}
    card_path(weights).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    return card


def load_checkpoint(weights: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The verified state dict and model card of ``weights``.

    Raises :class:`UnsafeCheckpoint` for a pickle-based file, a missing card, or a hash mismatch.
    """
    weights = Path(weights)
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
    card = json.loads(card_file.read_text())
    actual, expected = file_sha256(weights), str(card.get("sha256"))
    if expected != actual:
        raise UnsafeCheckpoint(
            f"{weights} has sha256 {actual[:16]}…, but its model card expects {expected[:16]}…; "
            "the file was changed or replaced"
        )
    return load_file(str(weights)), card
