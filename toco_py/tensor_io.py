"""Loading models and tensors for `run` and `validate`: inputs from .npy/.npz files or
seeded random data, outputs to .npz, written atomically."""
from __future__ import annotations

import io
import os

import numpy as np

from .errors import TocoError
from .ir import Graph
from .ops.quantize_ops import QUANTIZED_TYPES
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


def random_inputs(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for name in graph.inputs:
        t = graph.tensors[name]
        shape = tuple(max(d, 1) for d in (t.shape or ()))
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
