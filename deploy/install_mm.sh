#!/usr/bin/env bash
# Add the optional mm backend (mmcv 2.1 with ops, mmdet 3.3, mmpose 1.3.2) to a posebeam venv.
#   bash deploy/install_mm.sh [VENV=.venv]        (~15 min on 2 CPU cores: mmcv builds from source)
# Every step is constrained to torch==2.13.0 so nothing swaps in a CUDA torch. mmcv's setup.py
# still imports pkg_resources (setuptools<81) and must see torch, hence --no-build-isolation.
# mmpose's chumpy dependency does not build on numpy 2 and is only used for SMPL: it is skipped.
# mmpose imports torchvision; PyPI's torchvision wheels are CUDA builds that fail to load beside the
# CPU torch ("operator torchvision::nms does not exist"), so it comes from PyTorch's CPU index.
# xtcocotools is rebuilt from source so its C extension matches numpy 2.
set -euo pipefail
venv=${1:-.venv}
constraints=$(mktemp)
echo "torch==2.13.0" >"$constraints"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$constraints")
"${pip[@]}" 'setuptools<81' wheel ninja 'mmengine==0.10.7'
MMCV_WITH_OPS=1 MAX_JOBS=2 "${pip[@]}" --no-build-isolation 'mmcv==2.1.0'
"${pip[@]}" 'mmdet==3.3.0'
"${pip[@]}" --no-deps 'mmpose==1.3.2'
"${pip[@]}" json_tricks munkres cython
"${pip[@]}" --no-deps --no-binary xtcocotools --no-build-isolation xtcocotools
"${pip[@]}" --no-deps --index-url https://download.pytorch.org/whl/cpu 'torchvision==0.28.0'

rm -f "$constraints"
