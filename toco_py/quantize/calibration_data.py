"""Calibration samples from what users have: an .npz / .npy (samples along axis 0), a folder
of .npy files, or a folder of images (resized to the input, scaled by mean/std)."""
from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import numpy as np

from ..errors import TocoError
from ..ir import Graph

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff")


def _input_shape(graph: Graph, name: str) -> tuple[int, ...]:
    return tuple(max(d, 1) for d in (graph.tensors[name].shape or ()))


def _split_samples(graph: Graph, name: str, array: np.ndarray, source: str) -> list[np.ndarray]:
    """One array of samples along axis 0 -> per-sample arrays shaped like the input."""
    shape = _input_shape(graph, name)
    per_sample = shape[1:] if shape else ()
    if array.shape == shape:
        return [array]
    batch = shape[0] if shape else 1
    if tuple(array.shape[1:]) == per_sample and array.shape[0] % batch == 0:  # batches end to end
        return [array[i : i + batch].reshape(shape) for i in range(0, array.shape[0], batch)]
    if tuple(array.shape[1:]) == shape:
        return list(array)
    if tuple(array.shape[1:]) == per_sample:
        raise TocoError(f"{source}: {array.shape[0]} rows for input {name!r} of shape {list(shape)}: give "
                        f"whole samples, a multiple of its batch {batch}, end to end along the first axis")
    raise TocoError(f"{source}: samples of shape {list(array.shape[1:])} do not fit input {name!r} "
                    f"of shape {list(shape)}; put samples along the first axis")


def _from_npz(graph: Graph, path: str) -> list[dict[str, np.ndarray]]:
    with np.load(path, allow_pickle=False) as data:
        keys = data.files
        if len(graph.inputs) == 1 and graph.inputs[0] not in keys:
            if len(keys) != 1:
                raise TocoError(f"{path} holds {keys}; name the array after the input {graph.inputs[0]!r}")
            arrays = {graph.inputs[0]: data[keys[0]]}
        else:
            missing = [n for n in graph.inputs if n not in keys]
            if missing:
                raise TocoError(f"{path} has no array for input(s) {missing}; its arrays are {keys}")
            arrays = {n: data[n] for n in graph.inputs}
    per_input = {n: _split_samples(graph, n, a, path) for n, a in arrays.items()}
    counts = {len(v) for v in per_input.values()}
    if len(counts) != 1:
        raise TocoError(f"{path}: inputs have different numbers of samples {sorted(counts)}")
    return [{n: per_input[n][i] for n in graph.inputs} for i in range(counts.pop())]


def _single_input(graph: Graph, source: str) -> str:
    if len(graph.inputs) != 1:
        raise TocoError(f"{source} gives one array but the model has inputs {graph.inputs}; use an .npz "
                        "with one array per input")
    return graph.inputs[0]


def _from_images(graph: Graph, files: list[str], mean: float, std: float) -> Iterator[dict]:
    try:
        from PIL import Image
    except ImportError:
        raise TocoError("reading calibration images needs Pillow: pip install 'toco-py[images]'") from None
    name = _single_input(graph, "an image folder")
    shape = _input_shape(graph, name)
    if len(shape) != 4 or shape[3] not in (1, 3):
        raise TocoError(f"input {name!r} of shape {list(shape)} is not an NHWC image with 1 or 3 channels")
    _, h, w, c = shape
    for path in files:
        try:
            with Image.open(path) as img:
                img = img.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
                pixels = np.asarray(img, np.float32).reshape(1, h, w, c)
        except OSError as err:
            raise TocoError(f"{path}: cannot read the image ({err})") from None
        yield {name: ((pixels - mean) / std).astype(graph.tensors[name].dtype)}


def calibration_samples(graph: Graph, source: str, mean: float = 0.0, std: float = 1.0,
                        limit: int | None = None) -> list[dict[str, np.ndarray]]:
    found = _iter_samples(graph, source, mean, std, limit)
    # A positive limit stops reading there; a negative one (as a slice) needs them all.
    samples = list(itertools.islice(found, limit) if limit and limit > 0 else found)
    if not samples:
        raise TocoError(f"{source} holds no calibration samples")
    return samples[:limit] if limit and limit < 0 else samples


def _iter_samples(graph: Graph, source: str, mean: float, std: float, limit: int | None):
    if not os.path.exists(source):
        raise TocoError(f"calibration data {source}: no such file or folder")
    if os.path.isdir(source):
        files = sorted(os.path.join(source, f) for f in os.listdir(source))
        arrays = [f for f in files if f.endswith(".npy")]
        images = [f for f in files if f.lower().endswith(IMAGE_SUFFIXES)]
        if arrays:
            name = _single_input(graph, source)
            for path in arrays[:limit] if limit else arrays:
                for sample in _split_samples(graph, name, np.load(path, allow_pickle=False), path):
                    yield {name: sample}
        elif images:
            yield from _from_images(graph, images[:limit] if limit else images, mean, std)
        else:
            raise TocoError(f"{source} holds no .npy files or images")
    elif source.endswith(".npz"):
        yield from _from_npz(graph, source)
    elif source.endswith(".npy"):
        name = _single_input(graph, source)
        for sample in _split_samples(graph, name, np.load(source, allow_pickle=False), source):
            yield {name: sample}
    else:
        raise TocoError(f"calibration data {source}: use an .npz, an .npy or a folder of .npy files or images")
