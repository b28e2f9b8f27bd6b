"""schemas/: layouts, row builders, quantisation and schema-version checks."""

from __future__ import annotations

import importlib

import numpy as np
import pyarrow as pa
import pytest

from posebeam.schemas.layouts import BLAZEPOSE33, BODY25, COCO17, get_layout
from posebeam.schemas.records import COORDINATE_STEP, failure_row, keypoints_table, quantise, video_row
from posebeam.schemas.tables import COLUMNS, KEYPOINTS, TABLES, SchemaVersionError, check_schema_version


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


def test_quantise_rounds_to_the_step_exactly_in_float32() -> None:
    values = np.array([10.06, 10.07, -3.01, 511.999])
    assert quantise(values, COORDINATE_STEP).tolist() == [10.0, 10.125, -3.0, 512.0]


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
    assert table.schema.equals(KEYPOINTS, check_metadata=True)
    assert table.column("person_id").to_pylist() == [0, 1, 0]
    row = np.asarray(table.column("keypoints")[2].as_py()).reshape(17, 3)
    np.testing.assert_allclose(row[:, :2], keypoints[2, :, :2], atol=COORDINATE_STEP / 2)
    np.testing.assert_allclose(row[:, 2], keypoints[2, :, 2], atol=1 / 512)


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
    joints = np.full((1, 17, 3), [20.0, 30.0, 0.9])
    joints[0, 3] = [-4.0, 30.0, 0.8]  # left of the frame
    joints[0, 4] = [20.0, 47.3, 0.7]  # below it
    table = keypoints_table("v", np.array([0]), np.array([0.0]), np.array([0]), np.array([[0, 0, 40, 48]]),
                            np.array([1.0]), joints, width=40, height=48)  # fmt: skip
    written = np.asarray(table.column("keypoints")[0].as_py()).reshape(17, 3)
    np.testing.assert_allclose(written[3], [0.0, 30.0, 0.0])
    np.testing.assert_allclose(written[4], [20.0, 47.0, 0.0])
    np.testing.assert_allclose(written[5], [20.0, 30.0, 230 / 256])  # 0.9 rounded to 1/256


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
