#!/usr/bin/env bash
# Install posebeam into a virtual environment, offline-friendly and CPU-only.
#   bash deploy/install.sh [VENV=.venv] [EXTRAS, e.g. dev]
# torch is pinned to the CPU wheel first so no resolver ever picks a CUDA build. MediaPipe (the
# default pose backend's BlazePose weights) goes in last with --no-deps: its metadata asks for
# numpy<2 and protobuf<5, which would break apache-beam[gcp]; its pose solution runs fine on
# numpy 2 and protobuf 6 (checked by tests/test_real_footage.py). pose-classification-kit is only a
# data package here (its real BODY-25 key poses); its metadata asks for tensorflow and numpy<1.20.
set -euo pipefail
venv=${1:-.venv}
extras=${2:-}
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" torch==2.13.0
"${pip[@]}" -e "$here${extras:+[$extras]}"
"${pip[@]}" --no-deps mediapipe==0.10.21 pose-classification-kit==1.1.5
