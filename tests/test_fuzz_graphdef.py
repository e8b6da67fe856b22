"""Fuzzing the GraphDef frontend and the whole `convert` command.

Valid .pb (and .pbtxt) files are mutated at the byte level (bit flips, truncation, random
bytes inserted or overwritten, field numbers and lengths corrupted, huge claimed lengths)
and at the graph level (missing inputs, duplicate names, cycles, absurd shapes in constants
and placeholders, wrong dtypes and attrs, huge splat constants), and the flags are mutated
(bad --input_shapes, unknown arrays, empty strings, odd unicode, negative numbers, random
interior cut points). Every case must end in a TocoError (one line, exit code 2 from the
command) or in a model; anything else is a bug.

The in-process cases run through toco_py.api in two worker processes that import no
TensorFlow and run under an address-space limit (RLIMIT_AS), so a corrupt size that made us
allocate without bound shows as a failure instead of swapping the machine; each case has a
time limit. About a hundred more cases run through the real `toco-py convert` command, in
parallel, each under its own time and memory limits; every model they write must load in
LiteRT. Failures print the case's id; `python tests/test_fuzz_graphdef.py --worker SEEDS.json
FOLDER ID:ID+1:1` replays it (the seeds file is the `seeds` fixture's).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

CASE_SECONDS = 5           # per in-process case
COMMAND_SECONDS = 30       # per `toco-py convert` case
MEMORY_LIMIT = 3 << 30     # RLIMIT_AS of the workers and of each command, bytes
IN_PROCESS_CASES = 5000
COMMAND_CASES = 100

from tests.support.graphdef_mutations import make_case, set_shape, varint  # noqa: E402

# ---- the in-process worker (no TensorFlow, bounded memory, a time limit per case) -------------

class CaseTimeout(Exception):
    pass


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_in_process(path: str, flags: dict) -> str:
    """'ok: N ops' or 'error: message' (a TocoError); anything else propagates."""
    from toco_py import api
    from toco_py.cli import parse_arrays, parse_input_shapes
    from toco_py.errors import TocoError
    from toco_py.tflite.checks import InvalidModelError
    from toco_py.tflite.reader import read_model

    try:
        shapes = flags["input_shapes"]
        result = api.convert(
            path, None, input_arrays=parse_arrays(flags["input_arrays"]),
            output_arrays=parse_arrays(flags["output_arrays"]),
            input_shapes=parse_input_shapes(shapes) if shapes is not None else None,
            allow_custom_ops=flags["allow_custom_ops"], release_weights=True)
    except TocoError as err:
        message = str(err)
        assert message and "\n" not in message.strip(), f"not one line: {message!r}"
        return f"error: {message}"
    try:
        read_model(bytes(result.view))  # what we wrote, our validating reader takes
    except InvalidModelError as err:  # unless the graph declares tensors of many GiB
        if "the model's tensors need over" not in str(err):
            raise
        return f"ok: {len(result.graph.ops)} ops, too big to run"
    return f"ok: {len(result.graph.ops)} ops"


def split_in_process(path: str, flags: dict) -> str:
    """The same cut through `split` (not written): a GraphDef our own loader reads back."""
    from toco_py.cli import parse_arrays, parse_input_shapes
    from toco_py.errors import TocoError
    from toco_py.frontend.graphdef import parse_graphdef
    from toco_py.split import split

    try:
        shapes = flags["input_shapes"]
        result = split(path, None, input_arrays=parse_arrays(flags["input_arrays"]),
                       output_arrays=parse_arrays(flags["output_arrays"]),
                       input_shapes=parse_input_shapes(shapes) if shapes is not None else None)
    except TocoError as err:
        assert str(err) and "\n" not in str(err).strip(), f"not one line: {err!r}"
        return "error"
    parse_graphdef(result.data)
    return f"{result.nodes} nodes"


def worker(seed_file: str, cases: list[int], folder: str) -> list[dict]:
    import signal
    import time
    import traceback

    _limit_memory()

    def alarm(*_):
        raise CaseTimeout(f"over {CASE_SECONDS} s")

    signal.signal(signal.SIGALRM, alarm)
    with open(seed_file) as f:
        seeds = {k: dict(v, data=bytes.fromhex(v["data"])) for k, v in json.load(f).items()}
    report = []
    for case in cases:
        label, data, flags, suffix = make_case(seeds, case)
        path = os.path.join(folder, f"case{case}{suffix}")
        with open(path, "wb") as f:
            f.write(data)
        start = time.perf_counter()
        signal.alarm(CASE_SECONDS)
        try:
            outcome = run_in_process(path, flags)
            if "flags" in label:
                outcome += " / split " + split_in_process(path, flags)
            failure = None
        except BaseException as err:  # noqa: BLE001 - every other exception is a bug
            outcome = f"{type(err).__name__}: {err}"[:300]
            failure = traceback.format_exc()[-2000:]
        finally:
            signal.alarm(0)
        os.unlink(path)
        report.append({"case": case, "label": label, "outcome": outcome, "failure": failure,
                       "seconds": round(time.perf_counter() - start, 3)})
    return report


# ---- seeds (built with TensorFlow) -------------------------------------------------------

@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    import numpy as np
    import tensorflow as tf
    from google.protobuf import text_format

    from tests.support import models, networks
    from tests.support.oracle import freeze
    from toco_py.frontend.proto import GraphDef

    v1 = tf.compat.v1

    def wide():
        rng = np.random.default_rng(2)
        x = v1.placeholder(tf.float32, [None, 40], name="x")
        w = tf.Variable(rng.normal(0, 0.1, (40, 64)).astype(np.float32), name="w")  # > 4 KiB: viewed in place
        h = tf.nn.relu(tf.matmul(x, w))
        r = tf.reshape(h, [-1, 8, 8])
        return {"y": tf.identity(tf.reduce_sum(tf.transpose(r, [0, 2, 1]), axis=2), name="y")}

    def tf2():
        """A TF2 export: calls kept (nested), a StatelessIf on a constant, a function library."""
        from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

        w = tf.Variable(np.random.default_rng(3).normal(0, 0.3, (8, 8)).astype(np.float32))
        kept = tf.function(experimental_attributes={"_noinline": True})
        dense = kept(lambda x: tf.nn.relu(tf.matmul(x, w)))
        block = kept(lambda x: dense(x) + x)

        def model(x):
            y = block(x) * dense(x)
            return tf.cond(tf.constant(False), lambda: y * 2.0, lambda: y - 1.0)

        concrete = tf.function(model).get_concrete_function(tf.TensorSpec([1, 8], tf.float32, name="x"))
        frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=False, aggressive_inlining=False)
        return frozen.graph.as_graph_def().SerializeToString()

    built = {
        "tf2": (tf2(), ["x"], ["Identity"]),
        "mlp": (freeze(models.mlp)[0], ["x"], ["probs"]),
        "cnn": (freeze(models.small_cnn)[0], ["image"], ["scores"]),
        "wide": (freeze(wide)[0], ["x"], ["y"]),
        "gru": (networks.gru_static_rnn().pb, ["sequence"], ["y"]),
    }
    out = {}
    for name, (data, inputs, outputs) in built.items():
        names = [n.name for n in GraphDef.FromString(data).node]
        out[name] = {"data": data.hex(), "inputs": inputs, "outputs": outputs, "names": names}
    out["tf2"]["added"] = True
    text = text_format.MessageToString(GraphDef.FromString(built["mlp"][0])).encode()
    out["mlp_text"] = dict(out["mlp"], data=text.hex(), text=True)
    path = tmp_path_factory.mktemp("fuzz") / "seeds.json"
    path.write_text(json.dumps(out))
    return path


def _run_workers(seed_file, start: int, count: int, folder: str, processes: int = 2) -> list[dict]:
    """Cases start .. start+count-1, shared round-robin by `processes` worker processes."""
    script = os.path.abspath(__file__)

    def launch(i):
        cases = f"{start + i}:{start + count}:{processes}"
        proc = subprocess.run([sys.executable, script, "--worker", str(seed_file), folder, cases],
                              capture_output=True, text=True, timeout=600, env=_command_env(), check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout)

    with ThreadPoolExecutor(processes) as pool:
        return [row for rows in pool.map(launch, range(processes)) for row in rows]


def test_fuzz_in_process(seeds, tmp_path):
    report = _run_workers(seeds, 0, IN_PROCESS_CASES, str(tmp_path))
    failures = [r for r in report if r["failure"]]
    assert not failures, "\n\n".join(f"case {r['case']} ({r['label']}): {r['failure']}" for r in failures[:5])
    outcomes = [r["outcome"].split(":")[0] for r in report]
    by_family = Counter((r["label"].split("/")[1], r["outcome"].split(":")[0]) for r in report)
    print(f"{len(report)} cases: {outcomes.count('ok')} models, {outcomes.count('error')} errors; "
          f"slowest {max(r['seconds'] for r in report)} s; {dict(sorted(by_family.items()))}")
    assert outcomes.count("ok") > 100 and outcomes.count("error") > 1000, outcomes


def _command_case(seeds_data: dict, case: int, folder: str) -> dict:
    """One case through the real command, under RLIMIT_AS and a time limit."""
    label, data, flags, suffix = make_case(seeds_data, case)
    path = os.path.join(folder, f"in{suffix}")
    out = os.path.join(folder, "out.tflite")
    with open(path, "wb") as f:
        f.write(data)
    args = [sys.executable, "-m", "toco_py", "convert", "--graph_def_file", path, "-o", out]
    for key in ("input_arrays", "output_arrays", "input_shapes"):
        if flags[key] is not None:
            args.append(f"--{key}={flags[key]}".replace("\x00", "?"))  # argv cannot hold NUL
    if flags["allow_custom_ops"]:
        args.append("--allow_custom_ops")
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=COMMAND_SECONDS,
                              preexec_fn=_limit_memory, env=_command_env(), check=False)
    except subprocess.TimeoutExpired:
        return {"case": case, "label": label, "problem": f"over {COMMAND_SECONDS} s", "code": None}
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    row = {"case": case, "label": label, "code": proc.returncode, "stderr": proc.stderr[-1500:]}
    leftovers = sorted(set(os.listdir(folder)) - {os.path.basename(path), "out.tflite"})
    if leftovers:
        row["problem"] = f"left files behind: {leftovers}"
    elif "Traceback" in proc.stderr or "internal error" in proc.stderr or "out of memory" in proc.stderr:
        row["problem"] = "crashed"
    elif proc.returncode == 0:
        try:
            with open(out, "rb") as f:
                model = f.read()
            from ai_edge_litert.interpreter import Interpreter
            Interpreter(model_content=model)
            row["outcome"] = "model"
        except Exception as err:  # noqa: BLE001
            row["problem"] = f"LiteRT refuses the model: {err}"
    elif proc.returncode != 2 or len(lines) != 1 or not lines[0].startswith("error: "):
        row["problem"] = "not a one-line error with exit code 2"
    elif os.path.exists(out):
        row["problem"] = "an output file after a failure"
    else:
        row["outcome"] = lines[0]
    for name in os.listdir(folder):
        os.unlink(os.path.join(folder, name))
    return row


def _command_env() -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # One BLAS thread: its per-thread buffers count against RLIMIT_AS on many-core machines.
    return dict(os.environ, PYTHONPATH=root, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")


def test_fuzz_command(seeds, tmp_path):
    with open(seeds) as f:
        seeds_data = {k: dict(v, data=bytes.fromhex(v["data"])) for k, v in json.load(f).items()}
    cases = list(range(10**6, 10**6 + COMMAND_CASES))
    folders = []
    for case in cases:
        folder = tmp_path / str(case)
        folder.mkdir()
        folders.append(str(folder))
    with ThreadPoolExecutor(2) as pool:
        rows = list(pool.map(lambda a: _command_case(seeds_data, *a), zip(cases, folders)))
    problems = [r for r in rows if "problem" in r]
    assert not problems, "\n\n".join(f"case {r['case']} ({r['label']}): {r['problem']}, exit code "
                                      f"{r['code']}\n{r.get('stderr', '')}" for r in problems[:5])
    outcomes = [r["outcome"] for r in rows]
    common = Counter(re.sub(r"/\S+/in[.]pb(txt)?", "FILE", o)[:50] for o in outcomes).most_common(8)
    print(f"{len(rows)} commands: {outcomes.count('model')} models, "
          f"{len(rows) - outcomes.count('model')} one-line errors; {dict(common)}")
    assert outcomes.count("model") >= 5 and len(outcomes) - outcomes.count("model") >= 50, outcomes


# ---- the README's table: one input of each kind and the error it gets ---------------------

def _edit(fn):
    """A mutation of the parsed GraphDef: fn(nodes by name)."""
    def mutate(data: bytes) -> bytes:
        from toco_py.frontend.proto import GraphDef

        gd = GraphDef.FromString(data)
        fn({n.name: n for n in gd.node})
        return gd.SerializeToString()
    return mutate


def _huge_first_length(data: bytes) -> bytes:
    from toco_py.frontend.wire import read_varint

    _, start = read_varint(data, 1, len(data))
    return data[:1] + varint(1 << 62) + data[start:]


def _splat(node, dims):
    tensor = node.attr["value"].tensor
    tensor.ClearField("tensor_content")
    tensor.float_val.append(1.0)
    set_shape(tensor.tensor_shape, dims)


def _same(data: bytes) -> bytes:
    return data


# (id, seed, mutation, flags, fragments of the one-line error)
TABLE = [
    ("truncated", "mlp", lambda d: d[: len(d) // 2], {}, ["is not a TensorFlow GraphDef", "truncated"]),
    ("bit flips", "mlp", lambda d: bytes(b ^ 0x10 if i % 97 == 5 else b for i, b in enumerate(d)), {},
     ["is not a TensorFlow GraphDef"]),
    ("random bytes", "mlp", lambda d: bytes(range(256)) * 8, {}, ["is not a TensorFlow GraphDef"]),
    ("length 2^62 claimed", "mlp", _huge_first_length, {}, ["is not a TensorFlow GraphDef"]),
    ("wire type 7", "mlp", lambda d: b"\x0f" + d[1:], {}, ["is not a TensorFlow GraphDef"]),
    ("control characters in an op", "mlp", _edit(lambda n: setattr(n["h1"], "op", "Re\nlu")), {},
     ["does not look like a GraphDef", "control characters"]),
    ("missing input", "mlp", _edit(lambda n: n["add"].input.append("ghost")), {},
     ["the graph reads node 'ghost', which does not exist"]),
    ("duplicate names", "mlp", _edit(lambda n: setattr(n["h1"], "name", "add")), {},
     ["two nodes named 'add'"]),
    ("cycle", "mlp", _edit(lambda n: n["MatMul/ReadVariableOp"].input.__setitem__(0, "probs")),
     {"output_arrays": "probs"}, ["the graph has a cycle", "malformed"]),
    ("const payload size", "mlp", _edit(lambda n: set_shape(n["w1"].attr["value"].tensor.tensor_shape, [16, 33])),
     {}, ["constant 'w1' has 2048 bytes of data for shape [16, 33]"]),
    ("const dims 2^40 x 2^40", "mlp",
     _edit(lambda n: set_shape(n["w1"].attr["value"].tensor.tensor_shape, [1 << 40] * 2)),
     {}, ["constant 'w1' claims", "corrupt"]),
    ("splat of 2^32 floats", "mlp", _edit(lambda n: _splat(n["w1"], [65536, 65536])), {},
     ["constant 'w1' stores 1 values for its 4294967296 elements", "--fold_limit_mb"]),
    ("unknown dtype 99", "mlp", _edit(lambda n: setattr(n["w1"].attr["value"].tensor, "dtype", 99)), {},
     ["unknown TensorFlow data type 99"]),
    ("string placeholder", "mlp", _edit(lambda n: setattr(n["x"].attr["dtype"], "type", 7)), {},
     ["inputs have different types"]),
    ("placeholder [2^40, 16]", "mlp", _edit(lambda n: set_shape(n["x"].attr["shape"].shape, [1 << 40, 16])), {},
     ["input 'x' has shape [1099511627776, 16]", "2^31 - 1"]),
    ("placeholder [-5, 16]", "mlp", _edit(lambda n: set_shape(n["x"].attr["shape"].shape, [-5, 16])), {},
     ["input 'x' has unknown dimensions [-5, 16]", "--input_shapes"]),
    ("conv strides as a string", "cnn", _edit(lambda n: setattr(n["Conv2D"].attr["strides"], "s", b"2")), {},
     ["node 'Conv2D': strides must have 4 values"]),
    ("num_split 2^31-1", "gru", _edit(lambda n: setattr(n["rnn/gru_cell/split"].attr["num_split"], "i", (1 << 31) - 1)),
     {}, ["num_split=2147483647 outputs is out of range"]),
    ("conv fed a vector", "cnn", _edit(lambda n: set_shape(n["image"].attr["shape"].shape, [1, 1200])), {},
     ["node 'Conv2D' (CONV_2D) cannot take inputs of shapes [[1, 1200]"]),
    ("batch 2^30 for a Fill", "gru",
     _edit(lambda n: n["rnn/GRUCellZeroState/Const"].attr["value"].tensor.int_val.__setitem__(0, 1 << 30)), {},
     ["do not concatenate"]),
    ("unknown op type", "mlp", _edit(lambda n: setattr(n["h1"], "op", "NoSuchOp")), {},
     ["unsupported operations: NoSuchOp (h1)", "--allow_custom_ops"]),
    ("--input_shapes=1,a", "mlp", _same, {"input_shapes": "1,a"}, ["'a' is not an integer"]),
    ("--input_shapes=-1,16", "mlp", _same, {"input_shapes": "-1,16"}, ["dimension -1 is negative"]),
    ("--input_shapes=1,16:1,16", "mlp", _same, {"input_shapes": "1,16:1,16"}, ["gives 2 shapes for 1 inputs"]),
    ("--input_shapes=1,17", "mlp", _same, {"input_shapes": "1,17"},
     ["gives [1, 17] for input 'x', whose shape in the graph is [1, 16]"]),
    ("--input_shapes=99999999999 (shape unknown)", "wide", _same, {"input_shapes": "99999999999,40"},
     ["more than a TFLite tensor can index"]),
    ("--input_arrays=", "mlp", _same, {"input_arrays": ""}, ["empty array list"]),
    ("--input_arrays=ünïcødé", "mlp", _same, {"input_arrays": "ünïcødé"}, ["unknown input array 'ünïcødé'"]),
    ("--output_arrays=probs:7", "mlp", _same, {"output_arrays": "probs:7"}, ["'probs:7' is not produced"]),
    ("--input_arrays=x,x", "mlp", _same, {"input_arrays": "x,x"}, ["'x' is named twice"]),
    ("--input_arrays=h1 (shape unknown)", "mlp",
     _edit(lambda n: setattr(n["x"].attr["shape"].shape, "unknown_rank", True)),
     {"input_arrays": "h1"}, ["input 'h1' has an unknown shape", "--input_shapes"]),
]


@pytest.mark.parametrize("label,seed,mutate,flags,fragments", TABLE, ids=[row[0] for row in TABLE])
def test_bad_inputs_table(seeds, tmp_path, label, seed, mutate, flags, fragments):
    from tests.support.cli import assert_one_line_error, toco

    with open(seeds) as f:
        data = bytes.fromhex(json.load(f)[seed]["data"])
    pb, out = tmp_path / "bad.pb", tmp_path / "out.tflite"
    pb.write_bytes(mutate(data))
    proc = toco("convert", "--graph_def_file", str(pb), "-o", str(out),
                *[f"--{k}={v}" for k, v in flags.items()])
    print(f"| {label} | {proc.returncode} | {proc.stderr.strip()} |")
    assert_one_line_error(proc, *(fragments or []))
    assert not out.exists()


if __name__ == "__main__":
    if sys.argv[1] == "--worker":
        seed_file, folder = sys.argv[2], sys.argv[3]
        cases = list(range(*map(int, sys.argv[4].split(":"))))
        json.dump(worker(seed_file, cases, folder), sys.stdout)
