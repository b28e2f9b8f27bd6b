"""Packaging: one ``posebeam`` distribution, code folders mapped under the ``posebeam`` namespace."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from posebeam.models.pose_backend import create_backend

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_installs_only_under_the_posebeam_namespace(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("posebeam-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"posebeam", next(n for n in top_level if n.endswith(".dist-info"))}
    for package in ("pipeline", "training", "synth", "storage", "transforms", "models", "schemas", "figures"):
        assert f"posebeam/{package}/__init__.py" in names
    for shipped in ("pose_slowonly_mocap.safetensors", "pose_slowonly_mocap.json", "movenet_multipose.onnx",
                    "movenet_lightning.onnx", "segmenter_heatmap_mstcn_mocap.safetensors",
                    "segmenter_heatmap_mstcn_mocap.json", "aligner_space_time_mocap.safetensors",
                    "aligner_space_time_mocap.json"):  # fmt: skip
        assert f"posebeam/models/weights/{shipped}" in names, "the shipped weights are package data"
    for motion in ("deepmimic/humanoid3d_walk.txt.gz", "deepmimic/humanoid.urdf.gz", "cmu/01_01.bvh.gz"):
        assert f"posebeam/synth/motion_data/{motion}" in names, "motion capture is package data"
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "posebeam = posebeam.pipeline.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_backend_registry_names_unknown_backends() -> None:
    with pytest.raises(KeyError, match="unknown pose backend 'openpose'"):
        create_backend("openpose")
