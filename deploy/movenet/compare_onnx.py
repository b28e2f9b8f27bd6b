"""Check rebuilt MoveNet ONNX files against the committed ones on a fixed input.

    python compare_onnx.py NEW_DIR COMMITTED_DIR

Prints each model's largest output difference; exits 1 if one exceeds 1e-4 (a missing committed
file is reported and skipped: the first build).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

INPUTS = {"movenet_multipose.onnx": (1, 256, 320, 3), "movenet_lightning.onnx": (1, 192, 192, 3)}


def outputs(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.int32)
    return np.asarray(session.run(None, {session.get_inputs()[0].name: image})[0])


def main() -> int:
    new, committed = Path(sys.argv[1]), Path(sys.argv[2])
    worst = 0.0
    for name, shape in INPUTS.items():
        if not (committed / name).exists():
            print(f"{name}: no committed file to compare with")
            continue
        difference = float(np.abs(outputs(new / name, shape) - outputs(committed / name, shape)).max())
        worst = max(worst, difference)
        print(f"{name}: max abs difference {difference:.2e}")
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
