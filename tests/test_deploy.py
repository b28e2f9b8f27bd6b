"""deploy/: the Flex template declares every option, and Dataflow accepts the job graph."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apache_beam.runners.runner import PipelineResult
from conftest import assert_one_line_usage_error

from posebeam.pipeline.cli import main
from posebeam.pipeline.options import module_parser
from posebeam.pipeline.run import launch, module_job
from posebeam.pipeline.usage import UsageError
from posebeam.schemas.tables import TABLES, bigquery_schema

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_flex_template_declares_exactly_the_job_options() -> None:
    options = {action.dest for action in module_parser()._actions if action.dest != "help"}
    metadata = json.loads((DEPLOY / "metadata.json").read_text())
    declared = {parameter["name"] for parameter in metadata["parameters"]}
    assert declared == options
    required = {p["name"] for p in metadata["parameters"] if not p["isOptional"]}
    assert required == {"input", "output"}


DATAFLOW_DRY_RUN = [
    "--runner", "DataflowRunner", "--dry_run=True", "--project", "posebeam-test",
    "--region", "us-central1", "--temp_location", "gs://posebeam-test/tmp",
]  # fmt: skip


def test_dataflow_dry_run_builds_the_full_job_graph(video_folder: Path) -> None:
    models = ["--classifier", "shipped", "--segmenter", "shipped", "--aligner", "shipped"]
    result = launch(
        ["--input", str(video_folder), "--output", "gs://posebeam-test/out", *models, *DATAFLOW_DRY_RUN]
    )
    assert isinstance(result, PipelineResult)
    job = result.job  # type: ignore[attr-defined]  # the dry run's unsent Dataflow job
    stages = {
        t.unique_name for t in job.proto_pipeline.components.transforms.values() if "/" not in t.unique_name
    }
    assert {
        "DecodeAndEstimatePoses",
        "ClassifyClips",
        "SegmentActions",
        "EmbedForAlignment",
        "WriteTables",
    } <= stages


def test_dataflow_dry_run_loads_every_table_into_bigquery(video_folder: Path) -> None:
    argv = ["--input", str(video_folder), "--output", "gs://posebeam-test/out", "--segmenter", "shipped"]
    result = launch([*argv, "--bigquery_dataset", "posebeam-test:annotations", *DATAFLOW_DRY_RUN])
    job = result.job  # type: ignore[attr-defined]
    names = {t.unique_name for t in job.proto_pipeline.components.transforms.values()}
    for table in ("Videos", "Keypoints", "Failures", "FrameLabels", "Segments"):
        assert f"WriteBigQueryTables/BigQuery{table}" in names
    assert "WriteBigQueryTables/BigQueryClipPredictions" not in names  # no classifier asked for


def test_bigquery_schemas_follow_the_parquet_columns(capsys: pytest.CaptureFixture[str]) -> None:
    keypoints = bigquery_schema(TABLES["keypoints"])["fields"]
    assert keypoints[:2] == [
        {"name": "video_id", "type": "STRING", "mode": "REQUIRED"},
        {"name": "frame_index", "type": "INTEGER", "mode": "REQUIRED"},
    ]
    assert {"name": "nose_c", "type": "INTEGER", "mode": "NULLABLE"} in keypoints and len(keypoints) == 60
    predictions = bigquery_schema(TABLES["clip_predictions"])["fields"]
    assert {"name": "top5_scores", "type": "FLOAT", "mode": "REPEATED"} in predictions
    assert_one_line_usage_error(
        ["run", "v", "o", "--bigquery-dataset", "not a dataset"], "expected PROJECT:DATASET", capsys
    )


def test_cli_dry_run_of_run_says_what_happened(
    video_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "run",
        str(video_folder),
        "gs://posebeam-test/out",
        "--aligner",
        "shipped",
        "--",
        *DATAFLOW_DRY_RUN,
    ]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == (
        "posebeam: dry run: the job graph was built and nothing ran (tables would go to gs://posebeam-test/out)"
    )


def test_flex_template_parameters_parse_as_the_template_passes_them() -> None:
    """Flex templates pass ``--name=value``, on/off options included."""
    base = ["--input=videos", "--output=out"]
    job, beam_args = module_job(
        [*base, "--resume=true", "--detach=TRUE", "--fps=2.5", "--runner=DataflowRunner"]
    )
    assert (
        job.extract.resume
        and job.detach
        and job.extract.fps == 2.5
        and beam_args == ["--runner=DataflowRunner"]
    )
    job, _ = module_job([*base, "--resume=false", "--detach"])
    assert not job.extract.resume and job.detach
    with pytest.raises(UsageError, match="--resume takes true or false, got 'yes'"):
        module_job([*base, "--resume=yes"])


def test_the_image_installs_what_the_install_script_pins() -> None:
    """The Dockerfile installs deploy/requirements.txt plus the same --no-deps packages as
    install.sh (workers need mediapipe, not the synth data package), and both pin the same torch."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    install = (DEPLOY / "install.sh").read_text()
    pins = set((DEPLOY / "requirements.txt").read_text().splitlines())
    assert "pip install --no-cache-dir -r deploy/requirements.txt" in dockerfile

    def no_deps(text: str) -> set[str]:
        return {w for line in text.splitlines() if "--no-deps" in line for w in line.split() if "==" in w}

    assert no_deps(dockerfile) == {"mediapipe==0.10.21"} <= no_deps(install)
    torch_pins = {w.strip('"') for w in install.split() if w.strip('"').startswith("torch==")}
    assert torch_pins == {"torch==2.13.0"} and torch_pins <= pins
    assert {w for w in dockerfile.split() if w.startswith("torch==")} == torch_pins  # the CUDA variant too


def test_requirements_pin_the_cpu_torch_and_beam() -> None:
    pins = (DEPLOY / "requirements.txt").read_text().splitlines()
    assert "torch==2.13.0" in pins and "apache-beam==2.77.0" in pins
    assert not any(line.lower().startswith(("nvidia-", "mediapipe")) for line in pins)
