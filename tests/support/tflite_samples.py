"""Sample .tflite files for the reader's tests: ours and TensorFlow's converter's (float, int8,
dynamic batch, a while loop, a cond and a resource variable) and a hand-made one with an
external buffer."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from toco_py import api

from . import cf_models, models
from . import tiny_tflite as tt
from .oracle import freeze, tf_convert

v1 = tf.compat.v1


# ---- models ------------------------------------------------------------------------------

def _tf_int8(pb_path: str, inputs, outputs, shape) -> bytes:
    """TensorFlow's full-integer post-training quantization (per-channel weights)."""
    conv = v1.lite.TFLiteConverter.from_frozen_graph(pb_path, inputs, outputs)
    rng = np.random.default_rng(3)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.normal(0, 1, shape).astype(np.float32)]
                                           for _ in range(8))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def _tf_while() -> bytes:
    """A WHILE loop: three subgraphs (main, condition, body)."""
    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def loop(x):
        _, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * 2.0 + 1.0),
                             [tf.constant(0), x])
        return {"y": y}
    return tf.lite.TFLiteConverter.from_concrete_functions([loop.get_concrete_function()],
                                                           loop).convert()


def _external_weights() -> bytes:
    """The tiny model with its constant stored after the FlatBuffer (Buffer.offset/size)."""
    size = len(tt.tiny_model(buffers=(None, (1 << 33, 16))))
    offset = (size + 15) // 16 * 16
    return tt.tiny_model(buffers=(None, (offset, 16)),
                         tail=bytes(offset - size) + tt.FOUR_FLOATS)


def _ours_sparse() -> bytes:
    """Two FULLY_CONNECTED with sparse weights: one behind a DENSIFY (2x4 blocks, rows and
    block columns SPARSE_CSR, uint16 and int32 indices), one reading 1x4 blocks itself."""
    from toco_py.ir import Graph, Op, Tensor, const_tensor
    from toco_py.passes.propagate_shapes import propagate_shapes
    from toco_py.tflite.sparsity import SparseFormat, tf_format
    from toco_py.tflite.writer import model_bytes

    rng = np.random.default_rng(5)
    g = Graph()
    g.add_tensor(Tensor("x", (1, 16), "float32"))
    g.inputs, g.outputs = ["x"], ["y"]
    w1 = (rng.standard_normal((8, 16)) * np.repeat(np.repeat(rng.random((4, 4)) < 0.5, 2, 0), 4, 1))
    g.add_tensor(const_tensor("w1", w1.astype(np.float32))).sparsity = SparseFormat(
        (1, 0, 2, 3), (0, 1), (2, 4), (True, True, False, False),
        (("uint16", "int32"), ("int32", "uint16"), None, None))
    w2 = rng.standard_normal((4, 8)) * np.repeat(rng.random((4, 2)) < 0.5, 4, 1)
    g.add_tensor(const_tensor("w2", w2.astype(np.float32))).sparsity = tf_format(2, (1, 4))
    fc = {"fused_activation_function": "NONE", "keep_num_dims": False}
    for name in ("w1_dense", "h", "y"):
        g.add_tensor(Tensor(name))
    g.add_op(Op("DENSIFY", ["w1"], ["w1_dense"]))
    g.add_op(Op("FULLY_CONNECTED", ["x", "w1_dense", ""], ["h"], dict(fc)))
    g.add_op(Op("FULLY_CONNECTED", ["h", "w2", ""], ["y"], dict(fc)))
    propagate_shapes(g)
    return model_bytes(g)


def sample_files(tmp) -> dict:
    """name -> (.tflite bytes, our ConversionResult or None for other writers)."""
    out = {}
    for name, build, inputs, outputs, shape in [
            ("mlp", models.mlp, ["x"], ["probs"], (1, 16)),
            ("cnn", models.small_cnn, ["image"], ["scores"], (1, 20, 20, 3))]:
        pb, _ = freeze(build)
        path = tmp / f"{name}.pb"
        path.write_bytes(pb)
        result = api.convert_bytes(pb)
        out[f"ours_{name}"] = (result.model, result)
        out[f"tf_{name}"] = (tf_convert(str(path), inputs, outputs), None)
        if name == "cnn":
            out["tf_cnn_int8"] = (_tf_int8(str(path), inputs, outputs, shape), None)
    pb, _ = freeze(lambda: models.mlp(None))
    (tmp / "dyn.pb").write_bytes(pb)
    out["tf_mlp_dynamic_batch"] = (tf_convert(str(tmp / "dyn.pb"), ["x"], ["probs"]), None)
    out["tf_while"] = (_tf_while(), None)
    out["tf_cond"] = (cf_models.cond_model(), None)
    out["tf_state"] = (cf_models.state_model(), None)
    out["tiny_external"] = (_external_weights(), None)
    out["ours_sparse"] = (_ours_sparse(), None)
    return out


ALL = ["ours_mlp", "ours_cnn", "tf_mlp", "tf_cnn", "tf_cnn_int8", "tf_mlp_dynamic_batch",
       "tf_while", "tiny_external"]
