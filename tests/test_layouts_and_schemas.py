"""schemas/: layouts, row builders, quantisation and schema-version checks."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from posebeam.schemas.layouts import BLAZEPOSE33, BODY25, COCO17, get_layout
from posebeam.schemas.records import (
    COORDINATE_STEP,
    failure_row,
    keypoint_rows,
    keypoints_table,
    quantise,
    stored_keypoints,
    video_row,
)
from posebeam.schemas.tables import (
    COLUMNS,
    KEYPOINT_ROWS,
    KEYPOINTS,
    TABLES,
    SchemaVersionError,
    check_schema_version,
)


def test_coco_flip_index_swaps_left_and_right() -> None:
    flip = COCO17.flip_index()
    assert flip[:7] == [0, 2, 1, 4, 3, 6, 5]
    assert [flip[i] for i in flip] == list(range(17))
    for left, right in COCO17.flip_pairs:
        assert COCO17.joints[left].startswith("left_") and COCO17.joints[right].startswith("right_")


def test_index_maps_pick_the_same_named_joints() -> None:
    assert BODY25.to_coco17 is not None
    for coco_name, source in zip(COCO17.joints, BODY25.to_coco17, strict=True):
        assert BODY25.joints[source] == coco_name
    assert BLAZEPOSE33.to_coco17 == (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


def test_unknown_layout_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: blazepose33, body25, coco17"):
        get_layout("h36m")


def test_quantise_rounds_to_the_stored_half_pixel() -> None:
    values = np.array([10.24, 10.26, -3.01, 511.999])
    assert quantise(values, COORDINATE_STEP).tolist() == [10.0, 10.5, -3.0, 512.0]


def test_stored_keypoints_are_integer_columns_sorted_by_track_and_read_back_exactly() -> None:
    """The stored table (half-pixels, percent, one column per coordinate) and the readers' floats
    hold the same values; rows come sorted by video, person and frame."""
    rng = np.random.default_rng(3)
    n = 6
    joints = np.concatenate([rng.uniform(0, 300, (n, 17, 2)), rng.uniform(0, 1, (n, 17, 1))], axis=-1)
    rows = keypoints_table(
        "v", frame_index=np.array([0, 0, 1, 1, 2, 2]), timestamp_s=np.arange(n) / 25,
        person_id=np.array([1, 0, 1, 0, 1, 0]), bbox=np.tile([10.2, 20.0, 110.7, 220.0], (n, 1)),
        bbox_score=np.full(n, 0.876), keypoints=joints, width=320, height=240,
    )  # fmt: skip
    stored = stored_keypoints(rows)
    assert stored.schema.equals(KEYPOINTS, check_metadata=True)
    assert stored.column("person_id").to_pylist() == [0, 0, 0, 1, 1, 1]
    assert stored.column("frame_index").to_pylist() == [0, 1, 2, 0, 1, 2]
    assert stored.slice(0, 1).select(["bbox_x1", "bbox_x2", "bbox_score"]).to_pylist() == [
        {"bbox_x1": 20, "bbox_x2": 221, "bbox_score": 88}
    ]
    first = joints[1]  # person 0, frame 0
    assert stored.column("nose_x")[0].as_py() == round(first[0, 0] * 2)
    assert stored.column("right_ankle_c")[0].as_py() == round(first[16, 2] * 100)
    back = keypoint_rows(stored)
    order = np.lexsort((rows.column("frame_index").to_numpy(), rows.column("person_id").to_numpy()))
    assert back.equals(rows.take(order))


def test_keypoints_table_is_columnar_with_the_declared_schema() -> None:
    n = 3
    keypoints = np.arange(n * 17 * 3, dtype=np.float64).reshape(n, 17, 3) / 100
    table = keypoints_table(
        "abc",
        frame_index=np.array([0, 0, 1]),
        timestamp_s=np.array([0.0, 0.0, 0.04]),
        person_id=np.array([0, 1, 0]),
        bbox=np.tile([1.0, 2.0, 30.0, 60.0], (n, 1)),
        bbox_score=np.array([0.9, 0.8, 0.7]),
        keypoints=keypoints,
        width=640,
        height=480,
    )
    assert table.schema.equals(KEYPOINT_ROWS, check_metadata=True)
    assert table.column("person_id").to_pylist() == [0, 1, 0]
    row = np.asarray(table.column("keypoints")[2].as_py()).reshape(17, 3)
    np.testing.assert_allclose(row[:, :2], keypoints[2, :, :2], atol=COORDINATE_STEP / 2)
    np.testing.assert_allclose(row[:, 2], keypoints[2, :, 2], atol=0.005 + 1e-7)


def test_row_builders_reject_unknown_and_missing_columns() -> None:
    with pytest.raises(KeyError, match=r"videos row: unknown \['colour'\]"):
        video_row(colour="red")
    row = failure_row("a.mp4", "open", ValueError("bad header"))
    assert (row["error_type"], row["message"], row["video_id"]) == ("ValueError", "bad header", None)


def test_schema_version_check_refuses_other_major_versions() -> None:
    check_schema_version(KEYPOINTS, "keypoints")
    old = KEYPOINTS.with_metadata({b"posebeam.schema_version": b"0.3"})
    with pytest.raises(SchemaVersionError, match=r"schema version 0\.3"):
        check_schema_version(old, "keypoints")
    with pytest.raises(SchemaVersionError, match="schema version none"):
        check_schema_version(pa.schema([]), "keypoints")


def test_the_keypoints_writer_clamps_joints_into_the_frame_as_missing() -> None:
    """keypoints_table is the keypoints column's one producer: backends hand it raw model output."""
    joints = np.full((1, 17, 3), [20.0, 30.0, 0.9012])
    joints[0, 3] = [-4.0, 30.0, 0.8]  # left of the frame
    joints[0, 4] = [20.0, 47.3, 0.7]  # below it
    table = keypoints_table("v", np.array([0]), np.array([0.0]), np.array([0]), np.array([[0, 0, 40, 48]]),
                            np.array([1.0]), joints, width=40, height=48)  # fmt: skip
    written = np.asarray(table.column("keypoints")[0].as_py()).reshape(17, 3)
    np.testing.assert_allclose(written[3], [0.0, 30.0, 0.0])
    np.testing.assert_allclose(written[4], [20.0, 47.0, 0.0])
    np.testing.assert_allclose(written[5], [20.0, 30.0, 0.9], rtol=1e-6)  # a multiple of 1/100


def test_every_column_has_a_unit_a_meaning_and_a_producer_that_exists() -> None:
    from posebeam.schemas.labels import LABEL_TABLES

    assert set(COLUMNS) == set(TABLES) | set(LABEL_TABLES)
    for table, columns in COLUMNS.items():
        schema = TABLES.get(table) or LABEL_TABLES[table]
        assert [c.name for c in columns] == schema.names
        for column in columns:
            assert column.unit and column.description, f"{table}.{column.name}"
            if column.producer.startswith("("):  # a table no stage writes yet
                continue
            module, _, name = column.producer.rpartition(".")
            assert hasattr(importlib.import_module(module), name), f"{table}.{column.name}: {column.producer}"


def test_docs_tables_md_is_generated_from_the_schemas() -> None:
    from posebeam.schemas.tables_doc import render

    checked_in = (Path(__file__).resolve().parents[1] / "docs" / "tables.md").read_text()
    assert checked_in == render(), (
        "docs/tables.md is stale: python -m posebeam.schemas.tables_doc > docs/tables.md"
    )
    for table in (*TABLES, "clip_labels"):
        assert f"`{table}`" in checked_in
