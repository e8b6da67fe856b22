"""The networks of the passes issue, built with TensorFlow and frozen.

Each builder returns a Network: GraphDef bytes, input names with shapes/dtypes, output
names, and a function making seeded inputs. Used by tests and by benchmarks/compare_tf.py.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

v1 = tf.compat.v1


@dataclass
class Network:
    name: str
    pb: bytes
    inputs: dict[str, tuple[tuple[int, ...], str]]  # name -> (shape, dtype)
    outputs: list[str]

    def feeds(self, seed: int = 0) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        out = {}
        for name, (shape, dtype) in self.inputs.items():
            if dtype.startswith("int"):
                out[name] = rng.integers(0, 50, shape).astype(dtype)
            else:
                out[name] = rng.normal(0, 1, shape).astype(dtype)
        return out


def _seed_random_initial_values(sess, seed: int) -> None:
    """Variables a layer initialized at random (glorot: tf.compat.v1's layers and cells) get
    seeded values of the same spread: their own initializers draw differently in every
    process, set_random_seed notwithstanding (measured), and a test's verdict must not."""
    rng = np.random.default_rng(seed)
    for var in v1.global_variables():
        if var.initial_value.op.type in ("Const", "Fill"):
            continue  # a numpy value or zeros: the same everywhere
        shape = var.shape.as_list()
        if len(shape) >= 2:
            limit = np.sqrt(6 / (np.prod(shape[:-1]) + shape[-1]))
            value = rng.uniform(-limit, limit, shape)
        else:
            value = rng.normal(0, 0.1, shape)
        var.load(value.astype(var.dtype.as_numpy_dtype), sess)


def _freeze_v1(name: str, build: Callable[[], tuple[dict, list]], seed: int = 0) -> Network:
    """build() returns ({input name: placeholder}, [output tensors]). Control flow is built
    the TF1 way (Switch/Merge), as the frozen graphs users convert have it."""
    graph = tf.Graph()
    v1.disable_control_flow_v2()
    try:
        with graph.as_default():
            v1.set_random_seed(seed)
            inputs, outputs = build()
            with v1.Session(graph=graph) as sess:
                sess.run(v1.global_variables_initializer())
                _seed_random_initial_values(sess, seed)
                gd = v1.graph_util.convert_variables_to_constants(
                    sess, graph.as_graph_def(), [t.op.name for t in outputs])
    finally:
        v1.enable_control_flow_v2()
    return Network(
        name, gd.SerializeToString(),
        {k: (tuple(p.shape.as_list()), p.dtype.name) for k, p in inputs.items()},
        [t.op.name for t in outputs])


def _dense(x, units, name, rng, activation=None):
    w = tf.Variable(rng.normal(0, 1 / np.sqrt(x.shape[-1]), (x.shape[-1], units)).astype(np.float32),
                    name=f"{name}/kernel")
    b = tf.Variable(rng.normal(0, 0.1, units).astype(np.float32), name=f"{name}/bias")
    y = tf.nn.bias_add(tf.matmul(x, w), b)
    return activation(y) if activation else y


def dropout_mlp() -> Network:
    """Dropout with a placeholder_with_default(1.0) keep_prob, check_numerics, stop_gradient."""
    def build():
        rng = np.random.default_rng(0)
        x = v1.placeholder(tf.float32, [1, 32], name="x")
        keep_prob = v1.placeholder_with_default(1.0, [], name="keep_prob")
        h = _dense(x, 64, "fc1", rng, tf.nn.relu)
        h = v1.nn.dropout(h, keep_prob=keep_prob)
        h = tf.debugging.check_numerics(h, "fc1 output")
        h = _dense(tf.stop_gradient(h), 32, "fc2", rng, tf.nn.relu6)
        h = v1.nn.dropout(h, rate=1.0 - keep_prob)
        return {"x": x}, [tf.nn.softmax(_dense(h, 10, "fc3", rng), name="probs")]
    return _freeze_v1("dropout_mlp", build)


def computed_axis_softmax() -> Network:
    """A hand-written softmax whose axis is computed from rank/shape at run time."""
    def build():
        x = v1.placeholder(tf.float32, [2, 5, 7], name="x")
        axis = tf.rank(x) - 1
        m = tf.reduce_max(x, axis=axis, keepdims=True)
        e = tf.exp(x - m)
        s = e / tf.reduce_sum(e, axis=axis, keepdims=True)
        concat_axis = tf.shape(tf.shape(x))[0] - 1
        mean = tf.reduce_mean(x, axis=tf.range(tf.rank(x) - 1, tf.rank(x)), keepdims=True)
        return {"x": x}, [tf.concat([s, x - mean], axis=concat_axis, name="y")]
    return _freeze_v1("computed_axis_softmax", build)


def tile_range() -> Network:
    """Range of constants and Tiles that only feed broadcasting elementwise ops."""
    def build():
        x = v1.placeholder(tf.float32, [4, 6], name="x")
        positions = tf.cast(tf.range(0, 6, 1), tf.float32)
        row = tf.reshape(positions, [1, 6])
        scaled = x * tf.tile(row, [4, 1])
        shifted = scaled + tf.tile(tf.constant([[0.5]] * 4, tf.float32), [1, 6])
        same = tf.tile(shifted, [1, 1])
        return {"x": x}, [tf.maximum(same, tf.tile(tf.constant([[0.0]]), [4, 6]), name="y")]
    return _freeze_v1("tile_range", build)


def conv_bn_separable() -> Network:
    """conv + fused batch norm (tf.cond on an is_training flag fixed to False) + relu6 +
    separable conv, as tf.compat.v1.layers build them."""
    def build():
        x = v1.placeholder(tf.float32, [1, 16, 16, 3], name="image")
        training = v1.placeholder_with_default(False, [], name="is_training")
        h = v1.layers.conv2d(x, 8, 3, padding="same", use_bias=False, name="conv")
        h = v1.layers.batch_normalization(h, training=training, fused=True, name="bn")
        h = tf.nn.relu6(h)
        h = v1.layers.separable_conv2d(h, 12, 3, padding="same", name="sep")
        h = v1.layers.batch_normalization(h, training=training, fused=True, name="bn2")
        h = tf.nn.relu6(h)
        h = tf.pad(h, [[0, 0], [1, 1], [1, 1], [0, 0]])
        h = v1.layers.conv2d(h, 6, 3, strides=1, padding="valid", name="padded_conv")
        return {"image": x}, [tf.reduce_mean(h, axis=[1, 2], name="features")]
    net = _freeze_v1("conv_bn_separable", build)
    return _with_real_bn_statistics(net)


def _with_real_bn_statistics(net: Network) -> Network:
    """Freshly initialised batch norms have mean 0 / variance 1; give them non-trivial
    constants so folding them is actually exercised."""
    from toco_py.frontend.proto import GraphDef

    gd = GraphDef.FromString(net.pb)
    rng = np.random.default_rng(3)
    for node in gd.node:
        if node.op == "Const" and any(k in node.name for k in ("moving_mean", "moving_variance", "gamma", "beta")):
            tp = node.attr["value"].tensor
            value = (np.frombuffer(tp.tensor_content, np.float32) if tp.tensor_content
                     else np.array(tp.float_val, np.float32))
            n = max(value.size, 1)
            new = rng.uniform(0.5, 1.5, n) if "variance" in node.name or "gamma" in node.name else rng.normal(0, 0.3, n)
            tp.ClearField("float_val")
            tp.tensor_content = new.astype(np.float32).tobytes()
    net.pb = gd.SerializeToString()
    return net


def lstm_language_model() -> Network:
    """Single-step LSTM LM: embedding lookup + BasicLSTMCell once on state placeholders +
    dense + softmax, the way keyboard apps export them."""
    def build():
        vocab, dim, units = 50, 16, 32
        ids = v1.placeholder(tf.int32, [1], name="token")
        c = v1.placeholder(tf.float32, [1, units], name="c_in")
        h = v1.placeholder(tf.float32, [1, units], name="h_in")
        table = tf.Variable(np.random.default_rng(0).normal(0, 1, (vocab, dim)).astype(np.float32), name="emb")
        emb = tf.nn.embedding_lookup(table, ids)
        cell = v1.nn.rnn_cell.BasicLSTMCell(units)
        out, state = cell(emb, v1.nn.rnn_cell.LSTMStateTuple(c, h))
        logits = v1.layers.dense(out, vocab, name="proj")
        return ({"token": ids, "c_in": c, "h_in": h},
                [tf.nn.softmax(logits, name="next_token"), tf.identity(state.c, name="c_out"),
                 tf.identity(state.h, name="h_out")])
    return _freeze_v1("lstm_language_model", build)


def gru_static_rnn() -> Network:
    """static_rnn over 8 steps with a GRU cell (Unpack, Split, ConcatV2, Fill, Sigmoid, Tanh, Sub)."""
    def build():
        x = v1.placeholder(tf.float32, [1, 8, 10], name="sequence")
        steps = tf.unstack(x, axis=1)
        outputs, state = v1.nn.static_rnn(v1.nn.rnn_cell.GRUCell(16), steps, dtype=tf.float32)
        return {"sequence": x}, [tf.identity(v1.layers.dense(state, 4, name="head"), name="y")]
    return _freeze_v1("gru_static_rnn", build)


def fake_quant_mlp() -> Network:
    """A quantization-aware-trained style graph: FakeQuantWithMinMaxVars on weights and
    FakeQuantWithMinMaxArgs on activations."""
    def build():
        rng = np.random.default_rng(5)
        x = v1.placeholder(tf.float32, [1, 20], name="x")
        h = tf.quantization.fake_quant_with_min_max_args(x, -3.0, 3.0, name="fq_in")
        for i, units in enumerate((24, 10)):
            w = tf.Variable(rng.normal(0, 0.3, (h.shape[-1], units)).astype(np.float32), name=f"w{i}")
            wq = tf.quantization.fake_quant_with_min_max_vars(
                w, tf.constant(-1.0), tf.constant(1.0), narrow_range=True, name=f"fq_w{i}")
            h = tf.nn.relu(tf.matmul(h, wq) + tf.Variable(rng.normal(0, 0.1, units).astype(np.float32)))
            h = tf.quantization.fake_quant_with_min_max_args(h, 0.0, 6.0, name=f"fq_act{i}")
        return {"x": x}, [tf.identity(h, name="y")]
    return _freeze_v1("fake_quant_mlp", build)


def keras_application(name: str, input_size: int = 224, batch_norm_statistics: bool = True,
                      alpha: float | None = None) -> Network:
    """A Keras application with weights=None, frozen with convert_variables_to_constants_v2.

    With batch_norm_statistics, every BatchNormalization gets momentum 0 and sees one
    training-mode batch first, so its moving statistics are real rather than 0/1 (the
    activations of freshly built networks otherwise shrink towards zero with depth).

    Built once per process and arguments (seconds each); every call returns a new Network,
    so a caller changing its inputs or outputs changes no other caller's. alpha: the width
    multiplier of the MobileNets (None: the builder's default)."""
    pb, outputs = _frozen_keras_application(name, input_size, batch_norm_statistics, alpha)
    return Network(name, pb, {"input": ((1, input_size, input_size, 3), "float32")}, list(outputs))


@functools.cache
def _frozen_keras_application(name: str, input_size: int, batch_norm_statistics: bool,
                              alpha: float | None = None) -> tuple[bytes, tuple[str, ...]]:
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    # Seeded and in a fresh session, so that the weights do not depend on what ran before.
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(0)
    builder = getattr(tf.keras.applications, name)
    width = {} if alpha is None else {"alpha": alpha}
    model = builder(weights=None, input_shape=(input_size, input_size, 3), **width)
    if batch_norm_statistics:
        for layer in model.layers:
            if isinstance(layer, tf.keras.layers.BatchNormalization):
                layer.momentum = 0.0
        sample = np.random.default_rng(0).normal(0, 1, (4, input_size, input_size, 3)).astype(np.float32)
        model(sample, training=True)
    spec = tf.TensorSpec([1, input_size, input_size, 3], tf.float32, name="input")
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    frozen = convert_variables_to_constants_v2(fn)
    gd = frozen.graph.as_graph_def()
    return gd.SerializeToString(), tuple(t.name.split(":")[0] for t in frozen.outputs)


def fused_patterns() -> Network:
    """Patterns the fuse stage recognises: hard swish in two spellings, l2_normalize, an
    identity transpose, clip to [-1, 1] and a max with zero."""
    def build():
        rng = np.random.default_rng(4)
        x = v1.placeholder(tf.float32, [1, 8, 8, 3], name="image")
        k = tf.Variable(rng.normal(0, 0.5, (3, 3, 3, 8)).astype(np.float32), name="k")
        h = tf.nn.conv2d(x, k, 1, "SAME")
        h = h * tf.nn.relu6(h + 3.0) * (1.0 / 6.0)  # Keras' hard swish
        h = tf.transpose(h, [0, 1, 2, 3])
        h = tf.math.l2_normalize(h, axis=-1)
        g = tf.nn.conv2d(h, tf.Variable(rng.normal(0, 0.5, (1, 1, 8, 8)).astype(np.float32)), 1, "VALID")
        g = g * tf.nn.relu6(g + 3) / 6  # hand-written hard swish
        c = tf.clip_by_value(tf.squeeze(tf.reduce_mean(g, axis=[1, 2], keepdims=True), [1, 2]) * 4.0, -1.0, 1.0)
        return {"image": x}, [tf.maximum(c, 0.0, name="y")]
    return _freeze_v1("fused_patterns", build)


SMALL_NETWORKS = {
    "fused_patterns": fused_patterns,
    "dropout_mlp": dropout_mlp,
    "computed_axis_softmax": computed_axis_softmax,
    "tile_range": tile_range,
    "conv_bn_separable": conv_bn_separable,
    "lstm_language_model": lstm_language_model,
    "gru_static_rnn": gru_static_rnn,
    "fake_quant_mlp": fake_quant_mlp,
}
KERAS_APPLICATIONS = ("MobileNet", "MobileNetV2", "ResNet50", "InceptionV3")


def digits_data():
    """scikit-learn's 8x8 digits (real, offline): (train x, train y), (test x, test y), NHWC in [0,1]."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)[..., None]
    y = data.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def trained_digits_cnn(epochs: int = 25) -> Network:
    """A small CNN trained here on the digits: conv + pool + conv + mean + dense + softmax."""
    (x, y), _ = digits_data()

    def build():
        inp = v1.placeholder(tf.float32, [1, 8, 8, 1], name="image")
        return {"image": inp}, [_digits_head(inp, reuse=True)]

    graph = tf.Graph()
    v1.disable_control_flow_v2()
    try:
        with graph.as_default():
            v1.set_random_seed(0)
            train_in = v1.placeholder(tf.float32, [None, 8, 8, 1])
            labels = v1.placeholder(tf.int64, [None])
            logits = _digits_logits(train_in, reuse=False)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
            step = v1.train.AdamOptimizer(0.01).minimize(loss)
            inputs, outputs = build()
            with v1.Session(graph=graph) as sess:
                sess.run(v1.global_variables_initializer())
                _seed_random_initial_values(sess, 0)
                rng = np.random.default_rng(0)
                for _ in range(epochs):
                    for idx in np.array_split(rng.permutation(len(x)), len(x) // 64):
                        sess.run(step, {train_in: x[idx], labels: y[idx]})
                gd = v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), ["probs"])
    finally:
        v1.enable_control_flow_v2()
    return Network("digits_cnn", gd.SerializeToString(), {"image": ((1, 8, 8, 1), "float32")}, ["probs"])


def _digits_logits(x, reuse: bool):
    with v1.variable_scope("digits", reuse=reuse):
        h = v1.layers.conv2d(x, 16, 3, padding="same", activation=tf.nn.relu, name="conv1")
        h = v1.layers.max_pooling2d(h, 2, 2, name="pool1")
        h = v1.layers.conv2d(h, 32, 3, padding="same", activation=tf.nn.relu6, name="conv2")
        h = tf.reduce_mean(h, axis=[1, 2])
        return v1.layers.dense(h, 10, name="logits")


def _digits_head(x, reuse: bool):
    return tf.nn.softmax(_digits_logits(x, reuse), name="probs")
