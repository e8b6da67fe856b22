"""Loading models and tensors for `run` and `validate`: inputs from .npy/.npz files or
seeded random data, outputs to .npz, written atomically."""
from __future__ import annotations

import io
import os

import numpy as np

from .errors import TocoError
from .ir import Graph
from .ops.quantize_ops import QUANTIZED_TYPES, is_quantized_tensor, quantize
from .tflite.writer import write_atomic


def is_tflite(path: str) -> bool:
    """Whether a model file is a .tflite (else a GraphDef): by content (the 'TFL3'
    identifier), so a misnamed file is still read right, or by name. A missing file, or a
    directory, is a TocoError."""
    if not os.path.isfile(path):
        raise TocoError(f"{path}: no such file" if not os.path.exists(path)
                        else f"{path} is not a file; pass a .pb or .tflite model")
    with open(path, "rb") as f:
        return f.read(8)[4:8] == b"TFL3" or path.endswith(".tflite")


def load_tflite(path: str) -> tuple[Graph, dict[str, str]]:
    """The main subgraph, and signature input names -> tensor names (for --input NAME=...)."""
    from .tflite.reader import InvalidModelError, read_model_file

    if not os.path.isfile(path):
        raise TocoError(f"{path}: no such file")
    try:
        model = read_model_file(path)
    except InvalidModelError:
        if path.endswith((".pb", ".pbtxt")):
            raise TocoError(f"{path} is a GraphDef, not a .tflite; convert it first: toco-py "
                            f"convert --graph_def_file {path} -o MODEL.tflite") from None
        raise
    aliases = {}
    for signature in model.signatures.values():
        if signature.subgraph == 0:
            aliases.update(signature.inputs)
    return model.main, aliases


def random_inputs(graph: Graph, seed: int = 0, steps: int | None = None) -> dict[str, np.ndarray]:
    """Seeded random data for every input; with steps, a leading step axis of that length
    (see split_steps)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for name in graph.inputs:
        t = graph.tensors[name]
        shape = (() if steps is None else (steps,)) + tuple(max(d, 1) for d in (t.shape or ()))
        if t.dtype in QUANTIZED_TYPES:
            info = np.iinfo(t.dtype)
            feeds[name] = rng.integers(info.min, info.max, shape, endpoint=True).astype(t.dtype)
        elif t.dtype.startswith(("int", "uint")):
            feeds[name] = rng.integers(0, 10, shape).astype(t.dtype)
        elif t.dtype == "bool":
            feeds[name] = rng.random(shape) < 0.5
        else:
            feeds[name] = rng.standard_normal(shape).astype(t.dtype)
    return feeds


def _load_array(path: str) -> np.ndarray:
    try:
        value = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise TocoError(f"{path}: cannot read it as a .npy array ({err})") from None
    if isinstance(value, np.lib.npyio.NpzFile):
        raise TocoError(f"{path} is an .npz archive; pass it with --inputs")
    return value


def resolve_name(graph: Graph, name: str, aliases: dict[str, str]) -> str:
    if name in graph.inputs:
        return name
    if name in aliases:
        return aliases[name]
    raise TocoError(f"the model has no input {name!r}; its inputs are {', '.join(graph.inputs)}")


def load_inputs(graph: Graph, pairs: tuple[str, ...], archive: str | None,
                aliases: dict[str, str] | None = None) -> dict[str, np.ndarray]:
    """--input NAME=FILE.npy (repeatable) and/or --inputs FILE.npz (keys are input names)."""
    aliases = aliases or {}
    feeds: dict[str, np.ndarray] = {}
    if archive:
        try:
            with np.load(archive, allow_pickle=False) as data:
                for key in data.files:
                    feeds[resolve_name(graph, key, aliases)] = data[key]
        except (OSError, ValueError) as err:
            raise TocoError(f"{archive}: cannot read it as an .npz archive ({err})") from None
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise TocoError(f"--input {pair!r}: write NAME=FILE.npy")
        resolved = resolve_name(graph, name, aliases)
        feeds[resolved] = _load_array(path)
    missing = [n for n in graph.inputs if n not in feeds]
    if missing:
        shapes = ", ".join(f"{n} {list(graph.tensors[n].shape or [])} {graph.tensors[n].dtype}" for n in missing)
        raise TocoError(f"no data for input(s) {shapes}; pass --input NAME=FILE.npy, --inputs FILE.npz or --random")
    return feeds


def split_steps(graph: Graph, feeds: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]] | None:
    """The input sets of a sequence of steps, or None for one input set. The step rule: an
    array with one more axis than its input's shape carries the steps on its leading axis;
    either every input's array has that axis, of the same length, or none has. An input of
    unknown rank cannot tell, so it cannot be part of a sequence."""
    stepped = {name: np.ndim(value) == len(graph.tensors[name].shape) + 1
               for name, value in feeds.items() if graph.tensors[name].shape is not None}
    if not any(stepped.values()):
        return None
    unknown = [n for n in feeds if graph.tensors[n].shape is None]
    if unknown:
        raise TocoError(f"input(s) {', '.join(unknown)} have no known rank, so their data cannot "
                        "be told to carry a step axis; run such a model one input set at a time")
    flat = [n for n, has in stepped.items() if not has]
    if flat:
        name, shape = flat[0], list(graph.tensors[flat[0]].shape)
        raise TocoError(f"input {name!r} has shape {shape}, so its data for a sequence of steps has "
                        f"shape [steps, *{shape}], got {list(np.shape(feeds[name]))}, while "
                        f"{next(n for n, has in stepped.items() if has)!r} carries a step axis; "
                        "give every input one more leading axis (the steps), or none")
    counts = {name: len(value) for name, value in feeds.items()}
    if len(set(counts.values())) > 1:
        raise TocoError("the inputs' step axes differ in length ("
                        f"{', '.join(f'{n}: {c}' for n, c in counts.items())}); give every input "
                        "the same number of steps")
    steps = next(iter(counts.values()))
    if steps == 0:
        raise TocoError("the inputs hold 0 steps; give at least one")
    return [{name: value[step] for name, value in feeds.items()} for step in range(steps)]


def split_samples(graph: Graph, feeds: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]] | None:
    """The input sets of a calibration-style file, or None for one input set: an array whose
    leading axis is k > 1 times its input's fixed batch, the other axes as the input's, holds k
    samples. Either every input's array holds the same k, or none does."""
    counts = {}
    for name, value in feeds.items():
        shape = graph.tensors[name].shape
        if (shape and all(d > 0 for d in shape) and np.ndim(value) == len(shape)
                and tuple(np.shape(value)[1:]) == tuple(shape[1:]) and np.shape(value)[0] != shape[0]
                and np.shape(value)[0] % shape[0] == 0):
            counts[name] = np.shape(value)[0] // shape[0]
    if not counts:
        return None
    if len(counts) != len(feeds) or len(set(counts.values())) > 1:
        raise TocoError("the inputs hold different numbers of samples along their first axis ("
                        f"{', '.join(f'{n}: {counts.get(n, 1)}' for n in feeds)}); give every input "
                        "the same number")
    batch = {name: graph.tensors[name].shape[0] for name in feeds}
    return [{name: value[i * batch[name]:(i + 1) * batch[name]] for name, value in feeds.items()}
            for i in range(next(iter(counts.values())))]


def check_shapes(graph: Graph, feeds: dict[str, np.ndarray]) -> None:
    """Each array has its input's shape where that shape is known (an unknown size, -1, takes
    any)."""
    for name, value in feeds.items():
        shape = graph.tensors[name].shape
        if shape is None:
            continue
        got = np.shape(value)
        if len(got) != len(shape) or any(d >= 0 and d != g for d, g in zip(shape, got)):
            raise TocoError(f"input {name!r} has shape {list(shape)}, got data of shape {list(got)}; give "
                            "data of the input's shape (many samples: along its first axis, as "
                            "k times its batch)")


def stack_steps(outputs: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Each output's values of the steps, stacked on a leading step axis."""
    stacked = {}
    for name in outputs[0]:
        shapes = {np.shape(step[name]) for step in outputs}
        if len(shapes) > 1:
            raise TocoError(f"output {name!r} changes shape between steps ({sorted(shapes)}), so "
                            "the steps cannot be stacked; run them one at a time")
        stacked[name] = np.stack([step[name] for step in outputs])
    return stacked


def save_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomic(path, buffer.getvalue())


def summary(arrays: dict[str, np.ndarray]) -> list[dict]:
    rows = []
    for name, value in arrays.items():
        value = np.asarray(value)
        numeric = value.size and value.dtype.kind in "biuf"
        rows.append({
            "name": name, "shape": list(value.shape), "dtype": value.dtype.name,
            "min": float(value.min()) if numeric else None,
            "max": float(value.max()) if numeric else None,
            "mean": float(value.astype(np.float64).mean()) if numeric else None,
        })
    return rows


def adapt_inputs(feeds: dict[str, np.ndarray], graph: Graph) -> dict[str, np.ndarray]:
    """Float data for an integer-quantized input is quantized with that input's params."""
    out = {}
    for name, value in feeds.items():
        t = graph.tensors.get(name)
        if t is not None and is_quantized_tensor(t) and np.asarray(value).dtype.kind == "f":
            value = quantize(np.asarray(value), t.quant.scale, t.quant.zero_point, t.quant.axis, t.dtype)
        out[name] = value
    return out
