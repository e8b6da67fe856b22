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
import random
import re
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

CASE_SECONDS = 5           # per in-process case
COMMAND_SECONDS = 30       # per `toco-py convert` case
MEMORY_LIMIT = 3 << 30     # RLIMIT_AS of the workers and of each command, bytes
IN_PROCESS_CASES = 5000
COMMAND_CASES = 100

HUGE = [1 << 31, (1 << 31) - 1, 1 << 32, 1 << 40, 1 << 62, (1 << 63) - 1]
ABSURD_DIMS = [[1 << 40], [1 << 31, 16], [-5, 3], [0, 16], [1] * 40, [65536, 65536],
               [30000, 30000], [-1, -1, -1], [(1 << 63) - 1], [3, -(1 << 40)], []]
WEIRD_NAMES = ["", " ", ",", ":", "x:", ":0", "x:-1", "x:99", "x:abc", "^x", "x\n", "\x00",
               "ünïcødé", "名前", "😀", "\u202e\u0301", "a" * 5000, "-1", "0", "None", "x,x",
               "probs:1", "probs:0", "image:0", "scores:7"]
WEIRD_SHAPES = ["", ":", "-1", "-1,16", "1,-3", "1,a", "1,,16", "1.5,16", "99999999999999999999",
                "1,99999999999", "0,16", "0", "1,16:1,16", " 1 , 16 ", "1,16,", "１,16", "1e3",
                "0x10", "nan", "1," * 100, "2147483648,16", "1,16\x00", "4294967296"]


# ---- mutations ---------------------------------------------------------------------------

def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _all_fields(data: bytes, start: int = 0, end: int | None = None, depth: int = 0, out=None):
    """(key start, value start, value end, wire type) of every field, recursing into
    length-delimited fields that parse as messages."""
    from toco_py.frontend.wire import LENGTH, WireError, fields

    out = [] if out is None else out
    end = len(data) if end is None else end
    try:
        found = list(fields(data, start, end))
    except WireError:
        return out
    for _number, wire_type, value_start, value_end, field_start in found:
        out.append((field_start, value_start, value_end, wire_type))
        if wire_type == LENGTH and depth < 6 and value_end - value_start < 1 << 16:
            _all_fields(data, value_start, value_end, depth + 1, out)
    return out


def _bit_flip(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(buf))
        buf[i] ^= 1 << rng.randrange(8)
    return bytes(buf)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def _insert(data: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(data) + 1)
    return data[:i] + rng.randbytes(rng.randint(1, 64)) + data[i:]


def _overwrite(data: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(data))
    chunk = rng.randbytes(rng.randint(1, 64))
    return data[:i] + chunk + data[i + len(chunk):]


def _duplicate_or_delete(data: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(data))
    j = min(len(data), i + rng.randint(1, 256))
    return data[:j] + data[i:j] + data[j:] if rng.random() < 0.5 else data[:i] + data[j:]


def _corrupt_length(data: bytes, rng: random.Random) -> bytes:
    """A length-delimited field claims another size: huge, off by one, zero."""
    from toco_py.frontend.wire import read_varint

    candidates = [f for f in _all_fields(data) if f[3] == 2]
    if not candidates:
        return _bit_flip(data, rng)
    key_start, value_start, value_end, _ = rng.choice(candidates)
    _, length_start = read_varint(data, key_start, len(data))
    length = value_end - value_start
    new = rng.choice([length + 1, length - 1, 0, length * 2 + 7, *HUGE, (1 << 64) - 1])
    return data[:length_start] + _varint(max(new, 0)) + data[value_start:]


def _corrupt_tag(data: bytes, rng: random.Random) -> bytes:
    """A field key gets another field number and/or wire type."""
    from toco_py.frontend.wire import read_varint

    fields = _all_fields(data)
    if not fields:
        return _bit_flip(data, rng)
    key_start = rng.choice(fields)[0]
    key, key_end = read_varint(data, key_start, len(data))
    number = rng.choice([key >> 3, 0, 1, 2, 3, 4, 5, 8, 15, 16, 1 << 20, (1 << 29) - 1, rng.randrange(1, 64)])
    wire = rng.choice([key & 7, rng.randrange(8)])
    return data[:key_start] + _varint(number << 3 | wire) + data[key_end:]


BYTE_MUTATORS = [_bit_flip, _truncate, _insert, _overwrite, _duplicate_or_delete,
                 _corrupt_length, _corrupt_tag]


def _text_mutation(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    i = rng.randrange(len(lines))
    kind = rng.randrange(6)
    if kind == 0:
        del lines[i]
    elif kind == 1:
        lines.insert(i, lines[rng.randrange(len(lines))])
    elif kind == 2:
        lines[i] = "".join(c if not c.isdigit() else rng.choice("0123456789") for c in lines[i]) + "9" * rng.randint(0, 30)
    elif kind == 3:
        lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)] + rng.choice(["{", "}", '"', "\\", "ü", "\x00", "😀", "-"])
    elif kind == 4:
        lines[i] = lines[i].replace("size: ", f"size: {rng.choice(HUGE + [-7])}")
    else:
        lines = lines[: rng.randrange(len(lines))]
    return "\n".join(lines) + "\n"


def _pick(nodes, rng, op=None):
    pool = [n for n in nodes if op is None or n.op == op]
    return rng.choice(pool) if pool else None


def _set_shape(shape_proto, dims) -> None:
    shape_proto.Clear()
    for d in dims:
        shape_proto.dim.add().size = d


def _graph_mutation(data: bytes, rng: random.Random) -> bytes:
    from toco_py.frontend.proto import GraphDef

    gd = GraphDef.FromString(data)
    nodes = list(gd.node)
    node = rng.choice(nodes)
    kind = rng.randrange(16)
    if kind == 0:  # a missing input
        node.input.append(rng.choice(["ghost", "ghost:3", "^ghost", f"{nodes[0].name}:9", ""]))
    elif kind == 1:  # duplicate names
        node.name = rng.choice(nodes).name
    elif kind == 2:  # a cycle: an early node reads a later one
        later = nodes[rng.randrange(len(nodes))]
        victim = _pick([n for n in nodes if n.input], rng) or node
        victim.input[rng.randrange(len(victim.input))] = later.name
    elif kind == 3:  # self loop
        node.input.append(node.name)
    elif kind == 4:  # absurd const shape, payload unchanged
        const = _pick(nodes, rng, "Const") or node
        _set_shape(const.attr["value"].tensor.tensor_shape, rng.choice(ABSURD_DIMS))
    elif kind == 5:  # a huge splat: one value claiming a huge shape
        const = _pick(nodes, rng, "Const") or node
        tensor = const.attr["value"].tensor
        tensor.ClearField("tensor_content")
        tensor.ClearField("float_val")
        tensor.float_val.append(1.0)
        _set_shape(tensor.tensor_shape, rng.choice([[65536, 65536], [30000, 30000], [1 << 28],
                                                     [1 << 20, 1 << 20, 1 << 20], [4096, 4096, 16]]))
    elif kind == 6:  # wrong const dtype
        const = _pick(nodes, rng, "Const") or node
        dtype = rng.choice([0, 2, 7, 8, 9, 10, 14, 19, 20, 21, 99, 101, 120, 200, -1])
        const.attr["value"].tensor.dtype = dtype
        if rng.random() < 0.5:
            const.attr["dtype"].type = dtype
    elif kind == 7:  # absurd placeholder shape
        ph = _pick(nodes, rng, "Placeholder") or node
        if rng.random() < 0.2:
            ph.attr["shape"].shape.Clear()
            ph.attr["shape"].shape.unknown_rank = True
        else:
            _set_shape(ph.attr["shape"].shape, rng.choice(ABSURD_DIMS))
    elif kind == 8:  # wrong placeholder / op dtype
        target = _pick(nodes, rng, "Placeholder") if rng.random() < 0.5 else node
        target = target or node
        key = "dtype" if target.op == "Placeholder" else "T"
        target.attr[key].type = rng.choice([0, 3, 6, 7, 9, 10, 14, 18, 19, 20, 21, 23, 99, 107])
    elif kind == 9:  # an attr of the wrong kind, or gone
        if node.attr:
            key = rng.choice(sorted(node.attr))
            if rng.random() < 0.4:
                del node.attr[key]
            else:
                value = node.attr[key]
                choice = rng.randrange(5)
                if choice == 0:
                    value.s = "😀 nonsense".encode()
                elif choice == 1:
                    value.i = rng.choice(HUGE + [-1, 0])
                elif choice == 2:
                    value.list.i.extend([rng.choice(HUGE + [-3, 0, 7]) for _ in range(rng.randint(0, 6))])
                elif choice == 3:
                    value.f = float("nan")
                else:
                    value.type = 99
    elif kind == 10:  # a node removed (its consumers dangle)
        gd.node.remove(node)
    elif kind == 11:  # another op type
        node.op = rng.choice(["Conv2D", "MatMul", "Reshape", "Softmax", "Pack", "Split", "Transpose",
                              "NoSuchOp", "", "Const", "Placeholder", "Switch", "Merge", "Fill"])
    elif kind == 12:  # inputs shuffled, added or dropped
        inputs = list(node.input)
        rng.shuffle(inputs)
        if inputs and rng.random() < 0.4:
            inputs.pop()
        if rng.random() < 0.3:
            inputs.append(rng.choice(nodes).name)
        del node.input[:]
        node.input.extend(inputs)
    elif kind == 13:  # odd names
        node.name = rng.choice(["", "😀", "a:b", "x y", "^z", "名前/ü", "a" * 3000])
    elif kind == 14:  # const payload of the wrong size
        const = _pick(nodes, rng, "Const") or node
        tensor = const.attr["value"].tensor
        tensor.tensor_content = tensor.tensor_content[: rng.randrange(len(tensor.tensor_content) + 1)] \
            + rng.randbytes(rng.choice([0, 1, 3, 4]))
    else:  # absurd values inside constants used as shapes, axes, perms, paddings
        const = _pick([n for n in nodes if n.op == "Const" and n.attr["value"].tensor.dtype in (3, 9)], rng)
        if const is not None:
            tensor = const.attr["value"].tensor
            import numpy as np
            dtype = np.int32 if tensor.dtype == 3 else np.int64
            count = len(tensor.tensor_content) // np.dtype(dtype).itemsize
            if count:
                size = np.dtype(dtype).itemsize
                values = np.frombuffer(tensor.tensor_content[: count * size], dtype).copy()
                values[rng.randrange(count)] = rng.choice([-1, -7, 0, 1 << 30, -(1 << 31), (1 << 31) - 1])
                tensor.tensor_content = values.tobytes()
            else:
                values = [rng.choice([-1, -7, 0, 1 << 30, -(1 << 31), (1 << 31) - 1]) for _ in tensor.int_val] or [-9]
                del tensor.int_val[:]
                tensor.int_val.extend(values)
    return gd.SerializeToString()


def _flag_mutation(seed: dict, rng: random.Random, node_names: list[str]) -> dict:
    """Flags as the command line gives them (strings, or None for absent)."""
    flags = {"input_arrays": ",".join(seed["inputs"]), "output_arrays": ",".join(seed["outputs"]),
             "input_shapes": None, "allow_custom_ops": rng.random() < 0.3}
    kind = rng.randrange(5)
    if kind == 0:
        flags["input_shapes"] = rng.choice(WEIRD_SHAPES)
    elif kind == 1:
        flags[rng.choice(["input_arrays", "output_arrays"])] = rng.choice(WEIRD_NAMES)
    elif kind == 2:  # a random cut: interior inputs and outputs, sometimes numbered
        def pick():
            name = rng.choice(node_names)
            return name + rng.choice(["", "", ":0", ":1", ":2"])
        flags["input_arrays"] = ",".join(pick() for _ in range(rng.randint(1, 3))) if rng.random() < 0.8 else None
        flags["output_arrays"] = ",".join(pick() for _ in range(rng.randint(1, 2))) if rng.random() < 0.8 else None
        if rng.random() < 0.3:
            flags["input_shapes"] = ":".join(rng.choice(["1", "1,16", "1,20,20,3", "2,3", ""])
                                             for _ in range(rng.randint(1, 3)))
    elif kind == 3:
        flags["input_arrays"] = flags["output_arrays"] = None
    else:
        flags["input_arrays"] = rng.choice([None, flags["input_arrays"], ",".join(seed["inputs"] * 2)])
        flags["output_arrays"] = rng.choice([flags["output_arrays"], flags["output_arrays"] + "," + rng.choice(WEIRD_NAMES)])
        flags["input_shapes"] = rng.choice([None, "1,16", "-1,16", "1,17", "1,16:1,16", "1,20,20,3"])
    return flags


def make_case(seeds: dict, case: int) -> tuple[str, bytes, dict, str]:
    """(case label, file bytes, flags, file suffix), deterministic in `case`."""
    rng = random.Random(case)
    name = sorted(seeds)[case % len(seeds)]
    seed = seeds[name]
    data = seed["data"]
    flags = {"input_arrays": ",".join(seed["inputs"]) if rng.random() < 0.5 else None,
             "output_arrays": ",".join(seed["outputs"]) if rng.random() < 0.7 else None,
             "input_shapes": None, "allow_custom_ops": rng.random() < 0.3}
    suffix = ".pbtxt" if seed.get("text") else ".pb"
    family = rng.random()
    if seed.get("text"):
        label = "text"
        data = _text_mutation(data.decode(), rng).encode() if family < 0.8 else data
        if family >= 0.8:
            label = "text+flags"
            flags = _flag_mutation(seed, rng, seed["names"])
    elif family < 0.45:
        mutate = rng.choice(BYTE_MUTATORS)
        label = mutate.__name__.strip("_")
        data = mutate(data, rng)
        if rng.random() < 0.2:
            data = rng.choice(BYTE_MUTATORS)(data, rng)
    elif family < 0.8:
        label = "graph"
        data = _graph_mutation(data, rng)
        if rng.random() < 0.25:
            data = _graph_mutation(data, rng)
    else:
        label = "flags"
        flags = _flag_mutation(seed, rng, seed["names"])
    return f"{name}/{label}", data, flags, suffix


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
    import models
    import networks
    import numpy as np
    import tensorflow as tf
    from google.protobuf import text_format
    from oracle import freeze

    from toco_py.frontend.proto import GraphDef

    v1 = tf.compat.v1

    def wide():
        rng = np.random.default_rng(2)
        x = v1.placeholder(tf.float32, [None, 40], name="x")
        w = tf.Variable(rng.normal(0, 0.1, (40, 64)).astype(np.float32), name="w")  # > 4 KiB: viewed in place
        h = tf.nn.relu(tf.matmul(x, w))
        r = tf.reshape(h, [-1, 8, 8])
        return {"y": tf.identity(tf.reduce_sum(tf.transpose(r, [0, 2, 1]), axis=2), name="y")}

    built = {
        "mlp": (freeze(models.mlp)[0], ["x"], ["probs"]),
        "cnn": (freeze(models.small_cnn)[0], ["image"], ["scores"]),
        "wide": (freeze(wide)[0], ["x"], ["y"]),
        "gru": (networks.gru_static_rnn().pb, ["sequence"], ["y"]),
    }
    out = {}
    for name, (data, inputs, outputs) in built.items():
        names = [n.name for n in GraphDef.FromString(data).node]
        out[name] = {"data": data.hex(), "inputs": inputs, "outputs": outputs, "names": names}
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
    return data[:1] + _varint(1 << 62) + data[start:]


def _splat(node, dims):
    tensor = node.attr["value"].tensor
    tensor.ClearField("tensor_content")
    tensor.float_val.append(1.0)
    _set_shape(tensor.tensor_shape, dims)


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
    ("const payload size", "mlp", _edit(lambda n: _set_shape(n["w1"].attr["value"].tensor.tensor_shape, [16, 33])),
     {}, ["constant 'w1' has 2048 bytes of data for shape [16, 33]"]),
    ("const dims 2^40 x 2^40", "mlp", _edit(lambda n: _set_shape(n["w1"].attr["value"].tensor.tensor_shape, [1 << 40] * 2)),
     {}, ["constant 'w1' claims", "corrupt"]),
    ("splat of 2^32 floats", "mlp", _edit(lambda n: _splat(n["w1"], [65536, 65536])), {},
     ["constant 'w1' stores 1 values for its 4294967296 elements", "--fold_limit_mb"]),
    ("unknown dtype 99", "mlp", _edit(lambda n: setattr(n["w1"].attr["value"].tensor, "dtype", 99)), {},
     ["unknown TensorFlow data type 99"]),
    ("string placeholder", "mlp", _edit(lambda n: setattr(n["x"].attr["dtype"], "type", 7)), {},
     ["inputs have different types"]),
    ("placeholder [2^40, 16]", "mlp", _edit(lambda n: _set_shape(n["x"].attr["shape"].shape, [1 << 40, 16])), {},
     ["input 'x' has shape [1099511627776, 16]", "2^31 - 1"]),
    ("placeholder [-5, 16]", "mlp", _edit(lambda n: _set_shape(n["x"].attr["shape"].shape, [-5, 16])), {},
     ["input 'x' has unknown dimensions [-5, 16]", "--input_shapes"]),
    ("conv strides as a string", "cnn", _edit(lambda n: setattr(n["Conv2D"].attr["strides"], "s", b"2")), {},
     ["node 'Conv2D': strides must have 4 values"]),
    ("num_split 2^31-1", "gru", _edit(lambda n: setattr(n["rnn/gru_cell/split"].attr["num_split"], "i", (1 << 31) - 1)),
     {}, ["num_split=2147483647 outputs is out of range"]),
    ("conv fed a vector", "cnn", _edit(lambda n: _set_shape(n["image"].attr["shape"].shape, [1, 1200])), {},
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
    ("--input_arrays=h1 (shape unknown)", "mlp", _edit(lambda n: setattr(n["x"].attr["shape"].shape, "unknown_rank", True)),
     {"input_arrays": "h1"}, ["input 'h1' has an unknown shape", "--input_shapes"]),
]


@pytest.mark.parametrize("label,seed,mutate,flags,fragments", TABLE, ids=[row[0] for row in TABLE])
def test_bad_inputs_table(seeds, tmp_path, label, seed, mutate, flags, fragments):
    from cli import assert_one_line_error, toco

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
