"""Interior input/output arrays: `convert` and `split` take only the part between them.

The main model is a language model's training graph: words are hashed to token ids (a
string op TFLite has no builtin for), embedded, run one step through a BasicLSTMCell fed
by state placeholders, projected to next-token probabilities; a loss and Adam's update ops
train it. It is trained a few steps and frozen with the training op kept, so the GraphDef
holds the whole training loop (TensorFlow itself could no longer import it: the updates
now write into constants). The oracle is TensorFlow running that graph in its session.
"""
import numpy as np
import pytest
import tensorflow as tf

from tests.support import networks
from tests.support.cli import assert_one_line_error, toco
from tests.support.oracle import run_litert, run_tf

v1 = tf.compat.v1

VOCAB, DIM, UNITS = 50, 16, 32
OUTPUTS = ["next_token", "c_out", "h_out"]
CELL = "basic_lstm_cell"


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    """{'full': path of the frozen training graph, 'shapes': the same with _output_shapes,
    'feeds': a word and states, 'values': TensorFlow's values of the tensors we cut at and
    of the outputs, in the session of the training graph}."""
    folder = tmp_path_factory.mktemp("lm")
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(0)
        word = v1.placeholder(tf.string, [1], name="word")
        c = v1.placeholder(tf.float32, [1, UNITS], name="c_in")
        h = v1.placeholder(tf.float32, [1, UNITS], name="h_in")
        target = v1.placeholder(tf.int32, [1], name="target")
        hashed = tf.strings.to_hash_bucket_fast(word, VOCAB, name="hash")
        ids = tf.identity(tf.cast(hashed, tf.int32), name="token_ids")
        table = tf.Variable(np.random.default_rng(0).normal(0, 1, (VOCAB, DIM)).astype(np.float32),
                            name="emb")
        emb = tf.nn.embedding_lookup(table, ids)
        out, state = v1.nn.rnn_cell.BasicLSTMCell(UNITS)(emb, v1.nn.rnn_cell.LSTMStateTuple(c, h))
        logits = v1.layers.dense(out, VOCAB, name="proj")
        tf.nn.softmax(logits, name="next_token")
        tf.identity(state.c, name="c_out")
        tf.identity(state.h, name="h_out")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target, logits=logits))
        v1.train.AdamOptimizer(0.05).minimize(loss, name="train")
        rng = np.random.default_rng(1)
        words = np.array([b"the", b"cat", b"sat", b"on", b"a", b"mat"])
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            for _ in range(20):  # the training loop, so the weights are not the initial ones
                sess.run("train", {word: rng.choice(words, 1), target: rng.integers(0, VOCAB, 1),
                                   c: rng.normal(0, 1, (1, UNITS)), h: rng.normal(0, 1, (1, UNITS))})
            feeds = {"word": np.array([b"cat"]),
                     "c_in": rng.normal(0, 1, (1, UNITS)).astype(np.float32),
                     "h_in": rng.normal(0, 1, (1, UNITS)).astype(np.float32)}
            cut = ["hash", "token_ids", f"{CELL}/concat"]
            fetched = sess.run([f"{n}:0" for n in cut + OUTPUTS], {f"{k}:0": v for k, v in feeds.items()})
            keep = OUTPUTS + ["train"]
            for name, add_shapes in (("full", False), ("shapes", True)):
                gd = v1.graph_util.convert_variables_to_constants(
                    sess, graph.as_graph_def(add_shapes=add_shapes), keep)
                assert {"ResourceApplyAdam", "StringToHashBucketFast"} <= {n.op for n in gd.node}
                (folder / f"{name}.pb").write_bytes(gd.SerializeToString())
    return {"full": folder / "full.pb", "shapes": folder / "shapes.pb", "feeds": feeds,
            "values": dict(zip(cut + OUTPUTS, fetched))}


def _check_outputs(got: dict, expected: dict, atol=2e-5):
    for name in OUTPUTS:
        np.testing.assert_allclose(got[name], expected[name], atol=atol, err_msg=name)


def _convert(tmp_path, pb, *flags, name="m.tflite"):
    out = tmp_path / name
    proc = toco("convert", "--graph_def_file", str(pb), "-o", str(out), *flags)
    assert proc.returncode == 0, proc.stderr
    return out.read_bytes(), proc.stderr


def test_whole_graph_reports_the_string_op(lm, tmp_path):
    out = tmp_path / "m.tflite"
    proc = toco("convert", "--graph_def_file", str(lm["full"]), "-o", str(out),
                "--output_arrays", ",".join(OUTPUTS))
    assert_one_line_error(proc, "StringToHashBucketFast (hash)")
    assert not out.exists()


def test_cut_at_interior_ids_skips_the_upstream(lm, tmp_path):
    """token_ids is computed from the string op: a cut there never visits it (not
    reported), and its shape, which nothing records, must be given."""
    args = ("--input_arrays", "token_ids,c_in,h_in", "--output_arrays", ",".join(OUTPUTS))
    out = tmp_path / "m.tflite"
    proc = toco("convert", "--graph_def_file", str(lm["full"]), "-o", str(out), *args)
    assert_one_line_error(proc, "input 'token_ids' has an unknown shape", "--input_shapes")
    assert not out.exists()

    model, log = _convert(tmp_path, lm["full"], *args, "--input_shapes", "1:1,32:1,32")
    assert "StringToHashBucketFast" not in log and "hash" not in log
    v = lm["values"]
    got = run_litert(model, {"token_ids": v["token_ids"], "c_in": lm["feeds"]["c_in"],
                             "h_in": lm["feeds"]["h_in"]})
    _check_outputs(got, v)


def test_split_training_graph(lm, tmp_path):
    """split writes the inference step alone; TensorFlow loads and runs it, fed the ids the
    full graph computed, and gets the full graph's outputs; converting the part matches."""
    part = tmp_path / "step.pb"
    proc = toco("split", str(lm["full"]), "-o", str(part), "--input_arrays", "token_ids,c_in,h_in",
                "--output_arrays", ",".join(OUTPUTS), "--input_shapes", "1:1,32:1,32")
    assert proc.returncode == 0, proc.stderr
    assert "token_ids (int32 [1])" in proc.stderr
    gd = v1.GraphDef.FromString(part.read_bytes())
    ops = {n.op for n in gd.node}
    assert not ops & {"StringToHashBucketFast", "ResourceApplyAdam", "AssignVariableOp", "NoOp"}
    assert sorted(n.name for n in gd.node if n.op == "Placeholder") == ["c_in", "h_in", "token_ids"]
    v, feeds = lm["values"], lm["feeds"]
    part_feeds = {"token_ids": v["token_ids"], "c_in": feeds["c_in"], "h_in": feeds["h_in"]}
    tf_out = dict(zip(OUTPUTS, run_tf(part.read_bytes(), part_feeds, OUTPUTS)))
    _check_outputs(tf_out, v, atol=1e-6)

    # The part converts with no flags at all: its placeholders are the inputs.
    model, log = _convert(tmp_path, part, "--output_arrays", ",".join(OUTPUTS))
    assert "input arrays (inferred): c_in,token_ids,h_in" in log
    _check_outputs(run_litert(model, part_feeds), v)

    # Converting the part gives the model the same cut of the whole graph gives.
    cut = ("--input_arrays", "token_ids,c_in,h_in", "--output_arrays", ",".join(OUTPUTS))
    from_part, _ = _convert(tmp_path, part, *cut, name="p.tflite")
    from_full, _ = _convert(tmp_path, lm["full"], *cut, "--input_shapes", "1:1,32:1,32", name="f.tflite")
    assert from_part == from_full

    text = tmp_path / "step.pbtxt"
    proc = toco("split", str(lm["full"]), "-o", str(text), "--input_arrays", "token_ids,c_in,h_in",
                "--output_arrays", ",".join(OUTPUTS), "--input_shapes", "1:1,32:1,32")
    assert proc.returncode == 0, proc.stderr
    assert text.read_text().startswith("node {")
    model_txt, _ = _convert(tmp_path, text, name="t.tflite")
    assert model_txt == model


def test_dtype_from_the_consumers(lm, tmp_path):
    """hash (StringToHashBucketFast) has no type attr: its int64 comes from the Cast reading it."""
    part = tmp_path / "p.pb"
    proc = toco("split", str(lm["full"]), "-o", str(part), "--input_arrays", "hash,c_in,h_in",
                "--output_arrays", ",".join(OUTPUTS), "--input_shapes", "1:1,32:1,32")
    assert proc.returncode == 0, proc.stderr
    assert "hash (int64 [1])" in proc.stderr
    v, feeds = lm["values"], lm["feeds"]
    part_feeds = {"hash": v["hash"], "c_in": feeds["c_in"], "h_in": feeds["h_in"]}
    _check_outputs(dict(zip(OUTPUTS, run_tf(part.read_bytes(), part_feeds, OUTPUTS))), v, atol=1e-6)


def test_shape_from_output_shapes_attr(lm, tmp_path):
    concat = f"{CELL}/concat"
    model, log = _convert(tmp_path, lm["shapes"], "--input_arrays", f"{concat},c_in",
                          "--output_arrays", ",".join(OUTPUTS))
    assert f"input '{concat}': shape [1, 48] from its node's _output_shapes" in log
    got = run_litert(model, {concat: lm["values"][concat], "c_in": lm["feeds"]["c_in"]})
    _check_outputs(got, lm["values"])


@pytest.fixture(scope="module")
def step(tmp_path_factory):
    """The inference-only LSTM step (token placeholder): everything upstream converts."""
    net = networks.lstm_language_model()
    path = tmp_path_factory.mktemp("step") / "lstm.pb"
    path.write_bytes(net.pb)
    return net, path


def test_shape_inferred_upstream(step, tmp_path):
    net, pb = step
    concat = f"{CELL}/concat"
    feeds = net.feeds(3)
    full = dict(zip([concat] + net.outputs, run_tf(net.pb, feeds, [concat] + net.outputs)))
    model, log = _convert(tmp_path, pb, "--input_arrays", f"{concat},c_in",
                          "--output_arrays", ",".join(net.outputs))
    assert f"input '{concat}': shape [1, 48] inferred from the graph upstream of it" in log
    got = run_litert(model, {concat: full[concat], "c_in": feeds["c_in"]})
    _check_outputs(got, full)
    # TensorFlow fed the intermediate value agrees.
    fed = run_tf(net.pb, {concat: full[concat], "c_in": feeds["c_in"]}, net.outputs)
    _check_outputs(dict(zip(net.outputs, fed)), full, atol=1e-6)


def test_cut_at_numbered_outputs(step, tmp_path):
    """'node:1' names: each becomes a placeholder (node_1 in the split GraphDef)."""
    net, pb = step
    gates = [f"{CELL}/split"] + [f"{CELL}/split:{i}" for i in (1, 2, 3)]
    feeds = net.feeds(4)
    full = dict(zip(gates + net.outputs, run_tf(net.pb, feeds, gates + net.outputs)))
    args = ("--input_arrays", ",".join(gates + ["c_in"]), "--output_arrays", ",".join(net.outputs))
    model, _ = _convert(tmp_path, pb, *args)
    inputs = {g: full[g] for g in gates} | {"c_in": feeds["c_in"]}
    _check_outputs(run_litert(model, inputs), full)

    part = tmp_path / "gates.pb"
    proc = toco("split", str(pb), "-o", str(part), *args)
    assert proc.returncode == 0, proc.stderr
    assert f"input '{CELL}/split:2' is fed by placeholder '{CELL}/split_2'" in proc.stderr
    renamed = {g.replace(":", "_"): full[g] for g in gates} | {"c_in": feeds["c_in"]}
    _check_outputs(dict(zip(net.outputs, run_tf(part.read_bytes(), renamed, net.outputs))), full, atol=1e-6)


def test_cut_needing_the_cut_node_is_refused(step, tmp_path):
    net, pb = step
    out = tmp_path / "m.tflite"
    proc = toco("convert", "--graph_def_file", str(pb), "-o", str(out), "--input_arrays",
                f"{CELL}/split:1,c_in,h_in,token", "--output_arrays", ",".join(net.outputs))
    assert_one_line_error(proc, f"input array '{CELL}/split:1' cuts node '{CELL}/split'",
                          f"'{CELL}/split:2'", "add them to --input_arrays")
    assert not out.exists()


def test_split_errors_are_one_line(step, tmp_path):
    _, pb = step
    out = tmp_path / "p.pb"
    proc = toco("split", str(pb), "-o", str(out), "--output_arrays", "nope")
    assert_one_line_error(proc, "unknown output array 'nope'")
    proc = toco("split", str(tmp_path / "missing.pb"), "-o", str(out))
    assert_one_line_error(proc, "no such file")
    assert not out.exists()
