"""Convert a TF.js graph model to ONNX with tf2onnx 1.17, patched for today's numpy and TensorFlow.

Run by ``build_onnx.sh`` inside a throwaway virtual environment (TensorFlow pulls protobuf 7, which
must stay out of posebeam's environment). Three incompatibilities are patched here, at run time,
instead of editing the installed packages:

1. numpy 2 removed ``np.product`` (tf2onnx reads TF.js weight shapes with it);
2. TF.js drops the ``TArgs``/``num_args`` attributes of fused ops (``_FusedConv2D`` …), which
   TensorFlow's graph importer now requires when tf2onnx infers output shapes;
3. newer TensorFlow declares ``TopKV2.index_type``, which TF.js graphs do not carry.

    python convert.py --tfjs MODEL.json --output MODEL.onnx --opset 17
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

np.product = np.prod  # type: ignore[attr-defined]  # (1)

from tf2onnx import convert, tfjs_utils  # noqa: E402

FUSED_OPS = {"_FusedConv2D", "_FusedDepthwiseConv2dNative", "_FusedMatMul"}
_output_shapes = tfjs_utils.get_output_shapes
_output_names_and_dtypes = tfjs_utils.get_output_names_and_dtypes


def get_output_shapes(node_def: Any, input_dtypes: list[Any], input_shapes: Any, inp_consts: Any) -> Any:
    if node_def.op in FUSED_OPS and "TArgs" not in node_def.attr:  # (2)
        extra = input_dtypes[2:]  # the fused ops' inputs after input and filter: bias, …
        node_def.attr["num_args"].i = len(extra)
        node_def.attr["TArgs"].list.type.extend(getattr(d, "as_datatype_enum", d) for d in extra)
    return _output_shapes(node_def, input_dtypes, input_shapes, inp_consts)


def get_output_names_and_dtypes(op_type: str, tf_attr: dict[str, Any], inp_dtypes: Any) -> Any:
    if op_type == "TopKV2" and "index_type" not in tf_attr:  # (3)
        import tensorflow as tf

        tf_attr = {**tf_attr, "index_type": tf.int32}
    return _output_names_and_dtypes(op_type, tf_attr, inp_dtypes)


tfjs_utils.get_output_shapes = get_output_shapes
tfjs_utils.get_output_names_and_dtypes = get_output_names_and_dtypes

if __name__ == "__main__":
    sys.argv = ["tf2onnx.convert", *sys.argv[1:]]
    convert.main()
