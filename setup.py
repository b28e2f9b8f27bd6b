"""posebeam: annotate video archives with human pose and actions, on Apache Beam."""

from pathlib import Path

from setuptools import setup

CODE_FOLDERS = ("pipeline", "training", "synth", "storage", "transforms", "models", "schemas", "figures")

setup(
    name="posebeam",
    version="0.1.0",
    description="Offline batch pipeline on Apache Beam: video → top-down 2D pose → Parquet tables",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11,<3.12",
    # The code folders become posebeam.pipeline, posebeam.transforms, ...: no generic
    # top-level names land in site-packages. ``posebeam`` itself is a namespace package.
    packages=[f"posebeam.{name}" for name in CODE_FOLDERS],
    package_dir={f"posebeam.{name}": name for name in CODE_FOLDERS},
    # The shipped classifier: safetensors weights and their model card.
    package_data={
        "posebeam.models": ["weights/*.safetensors", "weights/*.json", "weights/*.onnx"],
        "posebeam.synth": ["motion_data/*/*.gz", "motion_data/README.md"],
    },
    install_requires=[
        "apache-beam[gcp]==2.77.0",
        "torch==2.13.0",  # the CPU wheel on disk; a looser pin lets pip pick a CUDA build
        "av>=14,<20",
        "pyarrow>=17",
        "numpy>=2,<3",
        "numba>=0.61",  # the heatmap renderer's compiled kernels
        "pandas>=2",
        "scipy>=1.11",
        "scikit-learn>=1.4",
        "safetensors>=0.4",
        # blazepose backend; mediapipe itself is installed with --no-deps (deploy/install.sh):
        # its metadata pins numpy<2 and protobuf<5, which would break apache-beam[gcp].
        "opencv-python-headless>=4.8,<5",
        "onnxruntime>=1.20",  # the movenet backend (default)
        "absl-py",
        "attrs",
        "flatbuffers>=2.0",
        "matplotlib",
        "tqdm>=4.66",  # progress of local runs
    ],
    extras_require={
        "dev": ["pytest>=8", "ruff", "mypy", "hypothesis", "duckdb"],
        # Build recipe (CPU, ~12 min): see README "The mm backend".
        "mm": ["mmengine", "mmcv==2.1.0", "mmdet==3.3.0", "mmpose==1.3.2"],
    },
    entry_points={"console_scripts": ["posebeam = posebeam.pipeline.cli:main"]},
)
