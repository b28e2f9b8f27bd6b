"""Bytes per person-frame of the keypoints table, every column included, for storage layouts
measured side by side on one output's keypoints.

The rows read back are on the stored grid (half-pixels, percent), so each layout starts from them
plus uniform jitter within half a step (what the pose model's continuous output holds below that
grid), then rounds to its own steps:

- ``float lists``: schema 1.0's layout, ``bbox`` and ``keypoints`` as lists of float32 rounded to
  1/8 px and 1/256, zstd with dictionaries, rows in arrival order;
- ``int columns``: one integer column per coordinate (x, y in 1/S px, confidence in 1/C), rows
  sorted by video, person and frame, ids and coordinates DELTA_BINARY_PACKED, statistics on the
  row keys only, for S in {8, 4, 2} and C in {255, 100};
- ``posebeam``: what posebeam writes (``storage.parquet_tables.write_parquet``).

    python benchmarks/storage.py OUTPUT [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from posebeam.schemas.layouts import COCO17
from posebeam.storage.parquet_tables import read_table, write_parquet

SORT = [("video_id", "ascending"), ("person_id", "ascending"), ("frame_index", "ascending")]


def _bytes(table: pa.Table, **options: object) -> int:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", **options)
    return len(buffer.getvalue())


def continuous(rows: pa.Table, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes ``(N, 4)``, keypoints ``(N, 17, 3)`` and box scores ``(N,)`` with sub-grid jitter."""
    rng = np.random.default_rng(seed)
    n = rows.num_rows
    boxes = np.asarray(rows.column("bbox").combine_chunks().flatten(), np.float64).reshape(n, 4)
    joints = np.asarray(rows.column("keypoints").combine_chunks().flatten(), np.float64).reshape(n, 17, 3)
    scores = np.asarray(rows.column("bbox_score"), np.float64)
    boxes = boxes + rng.uniform(-0.25, 0.25, boxes.shape)
    joints[..., :2] += rng.uniform(-0.25, 0.25, joints[..., :2].shape)
    joints[..., 2] = np.clip(joints[..., 2] + rng.uniform(-0.005, 0.005, joints[..., 2].shape), 0, 1)
    return boxes, joints, np.clip(scores + rng.uniform(-0.005, 0.005, n), 0, 1)


def float_lists(rows: pa.Table, boxes: np.ndarray, joints: np.ndarray, scores: np.ndarray) -> int:
    def rounded(values: np.ndarray, step: float) -> np.ndarray:
        return (np.round(values / step) * step).astype(np.float32)

    joints = np.concatenate([rounded(joints[..., :2], 1 / 8), rounded(joints[..., 2:], 1 / 256)], axis=-1)
    table = pa.table(
        {
            **{name: rows.column(name) for name in ("video_id", "frame_index", "timestamp_s", "person_id")},
            "bbox": pa.FixedSizeListArray.from_arrays(pa.array(rounded(boxes, 1 / 8).reshape(-1)), 4),
            "bbox_score": pa.array(rounded(scores, 1 / 256)),
            "keypoints": pa.FixedSizeListArray.from_arrays(pa.array(joints.reshape(-1)), 51),
        }
    )
    return _bytes(table)


def int_columns(
    rows: pa.Table, boxes: np.ndarray, joints: np.ndarray, scores: np.ndarray, per_px: int, per_unit: int
) -> int:  # fmt: skip
    order = np.lexsort(
        (
            rows.column("frame_index").to_numpy(),
            rows.column("person_id").to_numpy(),
            rows.column("video_id").to_numpy(),
        )
    )
    columns: dict[str, pa.Array] = {
        name: rows.column(name).take(order)
        for name in ("video_id", "frame_index", "timestamp_s", "person_id")
    }
    for i, corner in enumerate(("x1", "y1", "x2", "y2")):
        columns[f"bbox_{corner}"] = pa.array(np.round(boxes[order, i] * per_px).astype(np.int32))
    columns["bbox_score"] = pa.array(np.round(scores[order] * per_unit).astype(np.uint8))
    for j, joint in enumerate(COCO17.joints):
        for axis, name in enumerate("xy"):
            columns[f"{joint}_{name}"] = pa.array(np.round(joints[order, j, axis] * per_px).astype(np.int32))
        columns[f"{joint}_c"] = pa.array(np.round(joints[order, j, 2] * per_unit).astype(np.uint8))
    table = pa.table(columns)
    delta = [
        name for name, kind in zip(table.column_names, table.schema.types, strict=True) if kind == pa.int32()
    ]
    return _bytes(
        table,
        use_dictionary=[name for name in table.column_names if name not in delta],
        column_encoding=dict.fromkeys(delta, "DELTA_BINARY_PACKED"),
        write_statistics=["video_id", "frame_index", "timestamp_s", "person_id"],
    )


def measure(output: str) -> dict[str, float]:
    rows = read_table(output, "keypoints")
    n = max(rows.num_rows, 1)
    boxes, joints, scores = continuous(rows)
    sizes = {"float lists, 1/8 px, 1/256 (schema 1.0)": float_lists(rows, boxes, joints, scores)}
    for per_px in (8, 4, 2):
        for per_unit in (255, 100):
            label = f"int columns, 1/{per_px} px, 1/{per_unit}"
            sizes[label] = int_columns(rows, boxes, joints, scores, per_px, per_unit)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "keypoints.parquet"
        write_parquet("keypoints", rows, str(path))
        sizes["posebeam (int columns, 1/2 px, 1/100)"] = path.stat().st_size
    return {label: size / n for label, size in sizes.items()}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", help="an output folder with a keypoints table")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.output)
    if args.json:
        print(json.dumps(result, indent=2))
        return result
    print(f"{'layout':45} B per person-frame")
    for label, size in result.items():
        print(f"{label:45} {size:6.1f}")
    return result


if __name__ == "__main__":
    main()
