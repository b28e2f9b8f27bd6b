"""``EmbedForAlignment`` in a ``TestPipeline`` and ``posebeam run --aligner``: the embeddings table."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from conftest import BEAM_TEST_OPTIONS, assert_one_line_usage_error, keypoint_frame

from posebeam.models.aligner import embed_track, load_aligner
from posebeam.pipeline.cli import main
from posebeam.pipeline.embed import EmbedConfig, EmbedForAlignment
from posebeam.pipeline.segment import person_tracks
from posebeam.schemas.tables import EMBEDDING_DIM
from posebeam.storage.parquet_tables import read_table

TINY = ["--steps", "3", "--batch-size", "2", "--heatmap-size", "16", "--dim", "32", "--depth", "1"]
TINY += ["--clip-frames", "24"]


@pytest.fixture(scope="module")
def aligner(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(repetition tables, a 64-d aligner trained 3 steps, a 16-d one)."""
    root = tmp_path_factory.mktemp("embed")
    argv = ["synth", str(root / "data"), "--motion", "mocap", "--kind", "repetitions", "--videos", "3"]
    assert main([*argv, "--duration", "6", "--seed", "4"]) == 0
    assert main(["train", "aligner", str(root / "data"), str(root / "m64"), *TINY]) == 0
    assert (
        main(["train", "aligner", str(root / "data"), str(root / "m16"), *TINY, "--embedding-dim", "16"]) == 0
    )
    name = "space_time_aligner.safetensors"
    return root / "data", root / "m64" / name, root / "m16" / name


def test_embed_for_alignment_embeds_every_row_as_embed_track_does(aligner: tuple[Path, Path, Path]) -> None:
    data, weights, _ = aligner
    table = read_table(str(data), "keypoints")
    tables = [
        table.filter(pc.equal(table.column("video_id"), v)) for v in pc.unique(table.column("video_id"))
    ]
    model, spec, _ = load_aligner(weights)
    expected = []
    for video in tables:
        for key, track in person_tracks(video, spec.fps, 8):
            vectors = embed_track(model, track.keypoints, track.scores, spec)[key.grid_index]
            expected += [
                (key.person_id, int(f), round(float(v[0]), 4))
                for f, v in zip(key.frame_index, vectors, strict=True)
            ]
    assert len(expected) > 100
    with TestPipeline(options=PipelineOptions(BEAM_TEST_OPTIONS)) as p:
        out = p | beam.Create(tables) | EmbedForAlignment(EmbedConfig(str(weights), batch_size=2))
        rows = out["embeddings"] | beam.Map(
            lambda r: (r["person_id"], r["frame_index"], round(r["embedding"][0], 4))
        )
        assert_that(rows, equal_to(expected), label="embeddings")
        lengths = out["embeddings"] | "Length" >> beam.Map(lambda r: len(r["embedding"])) | beam.Distinct()
        assert_that(lengths, equal_to([EMBEDDING_DIM]), label="EMBEDDING_DIM values each")
        assert_that(out["failures"], equal_to([]), label="no failures")


def test_posebeam_run_writes_the_embeddings_table(
    aligner: tuple[Path, Path, Path], video_folder: Path, tmp_path: Path
) -> None:
    _, weights, _ = aligner
    out = tmp_path / "out"
    argv = [
        "run",
        str(video_folder),
        str(out),
        "--backend",
        "shapes",
        "--classifier",
        "none",
        "--segmenter",
        "none",
    ]
    assert main([*argv, "--aligner", str(weights), "--", *BEAM_TEST_OPTIONS]) == 0
    schema = pq.read_schema(next((out / "embeddings").glob("*.parquet")))
    embedding_type = schema.field("embedding").type
    assert embedding_type.list_size == EMBEDDING_DIM and str(embedding_type.value_type) == "float"
    embeddings, keypoints = pd.read_parquet(out / "embeddings"), keypoint_frame(out)
    tracks = keypoints.groupby(["video_id", "person_id"]).size()
    assert len(embeddings) == tracks[tracks >= 8].sum() > 0
    assert np.isfinite(np.stack(embeddings.embedding.to_numpy())).all()
    assert embeddings.model.str.startswith("space_time_aligner@").all()


def test_an_aligner_of_another_size_is_a_one_line_error(
    aligner: tuple[Path, Path, Path], video_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, small = aligner
    argv = ["run", str(video_folder), str(tmp_path / "o"), "--aligner", str(small)]
    assert_one_line_usage_error(argv, "gives 16-d embeddings", capsys)
