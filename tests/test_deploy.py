"""deploy/: the Flex template declares every option, and Dataflow accepts the job graph."""

from __future__ import annotations

import json
from pathlib import Path

from apache_beam.runners.runner import PipelineResult

from posebeam.pipeline.options import module_parser
from posebeam.pipeline.run import launch

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_flex_template_declares_exactly_the_job_options() -> None:
    options = {action.dest for action in module_parser()._actions if action.dest != "help"}
    metadata = json.loads((DEPLOY / "metadata.json").read_text())
    declared = {parameter["name"] for parameter in metadata["parameters"]}
    assert declared == options
    required = {p["name"] for p in metadata["parameters"] if not p["isOptional"]}
    assert required == {"input", "output"}


def test_dataflow_dry_run_builds_the_job_graph(video_folder: Path) -> None:
    result = launch(
        [
            "--input", str(video_folder),
            "--output", "gs://posebeam-test/out",
            "--runner", "DataflowRunner",
            "--dry_run=True",
            "--project", "posebeam-test",
            "--region", "us-central1",
            "--temp_location", "gs://posebeam-test/tmp",
        ]
    )  # fmt: skip
    assert isinstance(result, PipelineResult)


def test_requirements_pin_the_cpu_torch_and_beam() -> None:
    pins = (DEPLOY / "requirements.txt").read_text().splitlines()
    assert "torch==2.13.0" in pins and "apache-beam==2.77.0" in pins
    assert not any(line.lower().startswith(("nvidia-", "mediapipe")) for line in pins)
