"""Mutations of valid GraphDef files and of convert's flags, for tests/test_fuzz_graphdef.py:
byte level (bit flips, truncation, inserted/overwritten bytes, corrupted field numbers and
lengths), graph level (missing inputs, duplicate names, cycles, absurd shapes, wrong dtypes
and attrs, huge splat constants; in a TF2 graph's function library too: calls of missing
functions, recursion, wrong arity, bad returns) and flags (odd names, shapes and cut points). Each case is
deterministic in its number."""
from __future__ import annotations

import random

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

def varint(value: int) -> bytes:
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
    return data[:length_start] + varint(max(new, 0)) + data[value_start:]


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
    return data[:key_start] + varint(number << 3 | wire) + data[key_end:]


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
        digits = "".join(c if not c.isdigit() else rng.choice("0123456789") for c in lines[i])
        lines[i] = digits + "9" * rng.randint(0, 30)
    elif kind == 3:
        cut = lines[i][: rng.randrange(len(lines[i]) + 1)]
        lines[i] = cut + rng.choice(["{", "}", '"', "\\", "ü", "\x00", "😀", "-"])
    elif kind == 4:
        lines[i] = lines[i].replace("size: ", f"size: {rng.choice(HUGE + [-7])}")
    else:
        lines = lines[: rng.randrange(len(lines))]
    return "\n".join(lines) + "\n"


def _pick(nodes, rng, op=None):
    pool = [n for n in nodes if op is None or n.op == op]
    return rng.choice(pool) if pool else None


def set_shape(shape_proto, dims) -> None:
    shape_proto.Clear()
    for d in dims:
        shape_proto.dim.add().size = d


def _graph_mutation(data: bytes, rng: random.Random) -> bytes:
    from toco_py.frontend.proto import GraphDef

    gd = GraphDef.FromString(data)
    if gd.library.function and rng.random() < 0.5:
        _library_mutation(gd, rng)
        return gd.SerializeToString()
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
        set_shape(const.attr["value"].tensor.tensor_shape, rng.choice(ABSURD_DIMS))
    elif kind == 5:  # a huge splat: one value claiming a huge shape
        const = _pick(nodes, rng, "Const") or node
        tensor = const.attr["value"].tensor
        tensor.ClearField("tensor_content")
        tensor.ClearField("float_val")
        tensor.float_val.append(1.0)
        set_shape(tensor.tensor_shape, rng.choice([[65536, 65536], [30000, 30000], [1 << 28],
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
            set_shape(ph.attr["shape"].shape, rng.choice(ABSURD_DIMS))
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


_CALLS = ("PartitionedCall", "StatefulPartitionedCall", "If", "StatelessIf", "Case")


def _library_mutation(gd, rng: random.Random) -> None:
    """A TF2 graph's function library broken: a call's function renamed or removed, a
    function calling itself or its caller, arguments added or dropped, returns gone or
    pointing nowhere, or a body node mutated like a graph node."""
    function = rng.choice(list(gd.library.function))
    calls = [n for n in list(gd.node) + [n for f in gd.library.function for n in f.node_def]
             if n.op in _CALLS]
    kind = rng.randrange(7)
    if kind == 0 and calls:  # a call of a function the library does not define
        call = rng.choice(calls)
        key = rng.choice([k for k in ("f", "then_branch", "else_branch") if k in call.attr] or ["f"])
        call.attr[key].func.name = rng.choice(["ghost", "", function.signature.name + "_"])
    elif kind == 1:  # a function calling itself, or one calling it
        node = function.node_def.add(name="again", op=rng.choice(["PartitionedCall", "StatefulPartitionedCall"]))
        node.input.extend(arg.name for arg in function.signature.input_arg)
        node.attr["f"].func.name = rng.choice(list(gd.library.function)).signature.name
    elif kind == 2:  # a function gone
        gd.library.function.remove(function)
    elif kind == 3:  # an argument more or less
        args = function.signature.input_arg
        if args and rng.random() < 0.5:
            args.pop()
        else:
            args.add(name="extra", type=1)
    elif kind == 4:  # a return gone, or pointing at no node or output
        names = sorted(function.ret)
        if names and rng.random() < 0.4:
            del function.ret[rng.choice(names)]
        elif names:
            function.ret[rng.choice(names)] = rng.choice(["ghost:output:0", "ghost", "", ":::", "x:y:z:9"])
        else:
            function.signature.output_arg.add(name="extra", type=1)
    elif kind == 5 and function.node_def:  # a body node reading nothing that exists
        node = rng.choice(list(function.node_def))
        node.input.append(rng.choice(["ghost", "ghost:output:0", "^ghost", f"{node.name}:output:0", ""]))
    elif function.node_def:  # a body node's op or name changed
        node = rng.choice(list(function.node_def))
        if rng.random() < 0.5:
            node.op = rng.choice(["If", "Case", "PartitionedCall", "NoSuchOp", "", "Switch"])
        else:
            node.name = rng.choice([n.name for n in function.node_def])


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
        outputs = flags["output_arrays"]
        flags["output_arrays"] = rng.choice([outputs, outputs + "," + rng.choice(WEIRD_NAMES)])
        flags["input_shapes"] = rng.choice([None, "1,16", "-1,16", "1,17", "1,16:1,16", "1,20,20,3"])
    return flags


def make_case(seeds: dict, case: int) -> tuple[str, bytes, dict, str]:
    """(case label, file bytes, flags, file suffix), deterministic in `case`."""
    rng = random.Random(case)
    # Seeds marked "added" take every sixth case, so that the other seeds' cases stay the
    # cases they were before the added seeds came.
    base = sorted(n for n in seeds if not seeds[n].get("added"))
    added = sorted(n for n in seeds if seeds[n].get("added"))
    name = added[case // 6 % len(added)] if added and case % 6 == 5 else base[case % len(base)]
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
