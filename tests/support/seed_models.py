"""The seeds' models (issue 14): what keyboard apps ship on phones, as tf.compat.v1 graphs of
small sizes frozen to GraphDef bytes.

- "lm": a next-word LSTM language model (embedding -> dynamic_rnn LSTM -> softmax);
- "greedy": a greedy decoder, a while loop feeding the argmax token's embedding back into an
  LSTM step and writing each token to a TensorArray;
- "beam": a beam search decoder, top_k over beams x vocabulary inside a while loop, the beams'
  states and token buffers (fixed size, shifted) gathered by the winners' parent beams;
- "dropout": dropout under a training flag, a cond on placeholder_with_default(False).

Each in two forms: "tf1" (control flow v1: frames and Switch/Merge, as frozen TF1 graphs have
them) and "v2" (functional While/If with a function library). The form is set for the build
only and restored after it, so both are built in one process.
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .oracle import freeze

v1 = tf.compat.v1

FORMS = ("tf1", "v2")


@dataclass(frozen=True)
class Sizes:
    vocab: int = 16
    embed: int = 8
    state: int = 8
    steps: int = 5  # the LM's sequence length, the decoders' tokens
    beams: int = 3
    batch: int = 2  # the LM's and dropout's


SMALL = Sizes()  # the tests'


@contextlib.contextmanager
def control_flow(form: str):
    """Builds inside use TF1 frames ("tf1") or functional control flow ("v2")."""
    was_v2 = v1.control_flow_v2_enabled()
    (v1.enable_control_flow_v2 if form == "v2" else v1.disable_control_flow_v2)()
    try:
        yield
    finally:
        (v1.enable_control_flow_v2 if was_v2 else v1.disable_control_flow_v2)()


def _weights(size: Sizes, seed: int = 1) -> dict[str, tf.Tensor]:
    """An embedding, one LSTM step's kernel and bias, and an output projection. The output
    weights are large so the choices (argmax, top_k) do not hang on float32 rounding: on the
    tests' feeds (SMALL) the chosen logit or beam score leads the next by 0.0046 at least
    (measured in float64), thousands of times the rounding error of such sums, so the tokens
    are the same on every machine."""
    rng = np.random.default_rng(seed)
    shapes = {"embedding": (size.vocab, size.embed), "kernel": (size.embed + size.state, 4 * size.state),
              "bias": (4 * size.state,), "projection": (size.state, size.vocab), "projection_bias": (size.vocab,)}
    scales = {"projection": 3.0, "projection_bias": 1.0}
    return {k: tf.constant(rng.normal(0, scales.get(k, 0.5), s).astype(np.float32), name=k)
            for k, s in shapes.items()}


def _lstm_step(w, x, h, c):
    z = tf.matmul(tf.concat([x, h], 1), w["kernel"]) + w["bias"]
    i, g, f, o = tf.split(z, 4, axis=1)
    c = tf.sigmoid(f + 1.0) * c + tf.sigmoid(i) * tf.tanh(g)
    return tf.sigmoid(o) * tf.tanh(c), c


def _logits(w, h):
    return tf.matmul(h, w["projection"]) + w["projection_bias"]


def language_model(size: Sizes):
    v1.set_random_seed(0)  # the LSTM cell's variables
    w = _weights(size)
    tokens = v1.placeholder(tf.int32, [size.batch, size.steps], name="tokens")
    x = tf.nn.embedding_lookup(w["embedding"], tokens)
    out, _ = v1.nn.dynamic_rnn(v1.nn.rnn_cell.LSTMCell(size.state), x, dtype=tf.float32)
    logits = tf.reshape(_logits(w, tf.reshape(out, [-1, size.state])), [size.batch, size.steps, size.vocab])
    return {"probs": tf.nn.softmax(logits, name="probs")}


def greedy_decoder(size: Sizes):
    w = _weights(size)
    start = v1.placeholder(tf.int32, [1], name="start")
    h0 = v1.placeholder(tf.float32, [1, size.state], name="h0")
    emitted = tf.TensorArray(tf.int32, size=size.steps, element_shape=[1])

    def body(i, token, h, c, emitted):
        h, c = _lstm_step(w, tf.gather(w["embedding"], token), h, c)
        token = tf.argmax(_logits(w, h), axis=1, output_type=tf.int32)
        return i + 1, token, h, c, emitted.write(i, token)

    _, _, h, _, emitted = tf.while_loop(lambda i, *_: i < size.steps, body,
                                        [tf.constant(0), start, h0, tf.zeros([1, size.state]), emitted])
    return {"tokens": tf.transpose(emitted.stack(), name="tokens"), "state": tf.identity(h, name="state")}


def beam_decoder(size: Sizes):
    w = _weights(size)
    start = v1.placeholder(tf.int32, [1], name="start")
    h0 = v1.placeholder(tf.float32, [1, size.state], name="h0")
    # One live beam at first: the others' scores keep them out of the first top_k.
    scores = tf.constant([0.0] + [-1e9] * (size.beams - 1))

    def body(i, token, h, c, scores, buffer):
        h, c = _lstm_step(w, tf.gather(w["embedding"], token), h, c)
        total = tf.reshape(scores[:, None] + tf.nn.log_softmax(_logits(w, h)), [1, size.beams * size.vocab])
        best, flat = tf.nn.top_k(total, size.beams)
        parent, token = flat[0] // size.vocab, flat[0] % size.vocab
        h, c, buffer = (tf.gather(t, parent) for t in (h, c, buffer))
        buffer = tf.concat([buffer[:, 1:], token[:, None]], 1)
        return i + 1, token, h, c, best[0], buffer

    loop_vars = [tf.constant(0), tf.tile(start, [size.beams]), tf.tile(h0, [size.beams, 1]),
                 tf.zeros([size.beams, size.state]), scores, tf.zeros([size.beams, size.steps], tf.int32)]
    _, _, _, _, scores, buffer = tf.while_loop(lambda i, *_: i < size.steps, body, loop_vars)
    return {"beams": tf.identity(buffer, name="beams"), "scores": tf.identity(scores, name="scores")}


DROPOUT_RATE = 0.5


def dropout(size: Sizes):
    """Outputs the activations after dropout too, to see what was dropped. The op seed makes
    the draws repeatable in LiteRT (seeds 0 and 0 draw anew on every run)."""
    w = _weights(size)
    x = v1.placeholder(tf.float32, [size.batch, size.embed], name="x")
    training = v1.placeholder_with_default(False, [], name="training")
    h = tf.nn.relu(tf.matmul(x, w["kernel"][:size.embed, :size.state]) + w["bias"][:size.state])
    h = tf.identity(v1.cond(training, lambda: tf.nn.dropout(h, rate=DROPOUT_RATE, seed=7), lambda: h), name="h")
    return {"h": h, "y": tf.identity(_logits(w, h), name="y")}


BUILDERS = {"lm": language_model, "greedy": greedy_decoder, "beam": beam_decoder, "dropout": dropout}
INPUTS = {"lm": ["tokens"], "greedy": ["start", "h0"], "beam": ["start", "h0"], "dropout": ["x"]}


@dataclass
class SeedModel:
    name: str
    form: str
    pb: bytes
    inputs: list[str]  # the placeholders (dropout's flag keeps its default unless named)
    outputs: list[str]


def seed_model(name: str, form: str, size: Sizes = SMALL) -> SeedModel:
    with control_flow(form):
        pb, outputs = freeze(functools.partial(BUILDERS[name], size))
    return SeedModel(name, form, pb, INPUTS[name], list(outputs.values()))


def feeds(name: str, count: int = 3, seed: int = 0, size: Sizes = SMALL) -> list[dict[str, np.ndarray]]:
    """Real inputs: token ids in the vocabulary, states in an LSTM's range."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        if name == "lm":
            out.append({"tokens": rng.integers(0, size.vocab, (size.batch, size.steps)).astype(np.int32)})
        elif name == "dropout":
            out.append({"x": rng.normal(0, 1, (size.batch, size.embed)).astype(np.float32)})
        else:
            out.append({"start": rng.integers(0, size.vocab, (1,)).astype(np.int32),
                        "h0": np.tanh(rng.normal(0, 1, (1, size.state))).astype(np.float32)})
    return out
