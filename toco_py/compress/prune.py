"""Post-training magnitude pruning of the weights of conv, depthwise conv, transposed conv and
FC ops (`--prune SPARSITY`, `--prune_schedule FILE`, `--prune_block 1xB`).

Each weight tensor loses the given share of its values, those of least magnitude, to zeros
(TF-MOT's magnitude pruning, applied once after training). With a 1xB block, the weights are
seen as rows [output channel, the rest in the file's order] cut into runs of B along the row
(B consecutive input channels of one tap, for a convolution), and whole runs go, those whose
mean |w| is least, as TF-MOT's block pruning pools them (AVG): the form LiteRT's sparse FC
kernels and XNNPACK read. Ties go to the value met first, so the choice is deterministic.
`--prune_method sparsegpt` (with --calibration-data) chooses the weights by the output error
their removal costs and moves that error onto the weights kept (sparsegpt.py).

The zeros are exact in every dtype the model is then written in (float16 and int8 keep 0 as
0: symmetric weights have zero point 0), so pruning runs on the float graph before any
quantization; sparse_encoding.py later stores the pruned tensors sparse where that is smaller.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ..errors import TocoError
from ..ir import Graph, Op
from ..ops.registry import REGISTRY

BLOCKS = ("1x1", "1x4", "1x16")


@dataclass
class PruneOptions:
    sparsity: float | None = None                 # every weighted op's, unless scheduled
    schedule: dict[str, float] = field(default_factory=dict)  # op / weight / output name or scope -> sparsity
    block: int = 1                                # B of a 1xB block
    method: str = "magnitude"                     # or sparsegpt (sparsegpt.py)
    # layer: --prune's share of each layer; measured: of all of them, spread by sparsegpt's saliency.
    allocation: str = "layer"
    # sparsegpt's samples: calibration_data.calibration_samples' arguments after the graph.
    calibration: tuple | None = None

    def describe(self) -> str:
        parts = [f"{self.sparsity:.0%}"] if self.sparsity is not None else []
        parts += [f"{len(self.schedule)} scheduled layers"] if self.schedule else []
        parts += [f"1x{self.block} blocks"] if self.block > 1 else []
        parts += ["sparsegpt"] if self.method == "sparsegpt" else []
        return ", ".join(parts + (["measured shares"] if self.allocation == "measured" else []))


def prune_options(sparsity: float | None, schedule_file: str | None, block: str | None,
                  method: str | None = None, calibration: tuple | None = None,
                  allocation: str | None = None) -> PruneOptions | None:
    """The options from --prune, --prune_schedule, --prune_block, --prune_method and
    --prune_allocation (calibration: --calibration-data and how to read it, as
    calibration_samples takes them), or None without pruning."""
    if sparsity is None and schedule_file is None:
        if block is not None or method is not None or allocation is not None:
            raise TocoError("--prune_block, --prune_method and --prune_allocation shape what --prune or "
                            "--prune_schedule removes: give one of them")
        return None
    if allocation == "measured" and (method != "sparsegpt" or sparsity is None):
        raise TocoError("--prune_allocation measured spreads --prune's share by what sparsegpt measures: add "
                        "--prune S --prune_method sparsegpt --calibration-data FILE")
    if sparsity is not None:
        _check_sparsity(sparsity, "--prune")
    if method == "sparsegpt" and (calibration is None or calibration[0] is None):
        raise TocoError("--prune_method sparsegpt measures each layer's inputs: give --calibration-data")
    schedule = _read_schedule(schedule_file) if schedule_file else {}
    return PruneOptions(sparsity, schedule, int((block or "1x1").split("x")[1]), method or "magnitude",
                        allocation or "layer", calibration if method == "sparsegpt" else None)


def _check_sparsity(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise TocoError(f"{where}: sparsity {value!r} is not a share of the weights in [0, 1), e.g. 0.5")
    return float(value)


def _read_schedule(path: str) -> dict[str, float]:
    """A JSON object: op, weight or output tensor name -> sparsity."""
    try:
        with open(path, encoding="utf-8") as f:
            schedule = json.load(f)
    except OSError as err:
        raise TocoError(f"--prune_schedule {path}: cannot read it ({err.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise TocoError(f"--prune_schedule {path}: not JSON ({err}); write an object such as "
                        '{"conv1": 0.5, "dense/MatMul": 0.8}') from None
    if not isinstance(schedule, dict):
        raise TocoError(f"--prune_schedule {path}: write a JSON object of layer name -> sparsity, "
                        f"not a {type(schedule).__name__}")
    return {str(name): _check_sparsity(value, f"--prune_schedule {path}, layer {name!r}")
            for name, value in schedule.items()}


def prunable(op: Op) -> int | None:
    """The index of the op's weight input if pruning applies to it, else None."""
    opdef = REGISTRY.get(op.type)
    return None if opdef is None or opdef.weight_axis is None else opdef.weight_axis[0]


def prune_graph(graph: Graph, options: PruneOptions) -> list[str]:
    """Prunes in place every weighted op's constant float weights (each subgraph); returns
    notes. A weight shared by several ops is pruned once, at the sparsity asked of the first."""
    graphs = graph.subgraphs or [graph]
    _check_schedule_names(graphs, options.schedule)
    layers = _layers(graphs, options)
    moments = None
    if options.method == "sparsegpt":
        from ..quantize.calibration_data import calibration_samples
        from .sparsegpt import input_moments, obs_prune

        moments = input_moments(graph, calibration_samples(graph, *options.calibration))
        if options.allocation == "measured":
            layers = _measured(layers, moments, options)
    zeros = total = 0
    for s, op, weight, sparsity in layers:
        compensated = None if moments is None else obs_prune(op, weight.data, moments, (s, weight.name),
                                                             sparsity, options.block)
        weight.data = compensated if compensated is not None else prune_weights(weight.data, sparsity,
                                                                                options.block)
        zeros += int(np.count_nonzero(weight.data == 0))
        total += weight.data.size
    if not layers:
        return ["--prune: no conv or FC weights to prune"]
    return [f"--prune: {len(layers)} weight tensors pruned, {zeros / total:.1%} of their values now zero"
            + (f" (blocks 1x{options.block})" if options.block > 1 else "")
            + (", the rest compensating (sparsegpt)" if moments is not None else "")
            + (", shares measured per layer" if options.allocation == "measured" else "")]


def _layers(graphs: list[Graph], options: PruneOptions) -> list[tuple[int, Op, object, float]]:
    """(subgraph index, op, weight tensor, sparsity) of each float weight to prune, once each."""
    layers = []
    for s, g in enumerate(graphs):
        done: set[str] = set()
        for op in g.ops:
            index = prunable(op)
            if index is None or index >= len(op.inputs) or op.inputs[index] in done:
                continue
            weight = g.tensors[op.inputs[index]]
            sparsity = _sparsity_for(op, weight.name, options)
            if not sparsity or not weight.is_const or weight.dtype != "float32":
                continue
            done.add(weight.name)
            layers.append((s, op, weight, sparsity))
    return layers


def _measured(layers: list, moments, options: PruneOptions) -> list:
    """The layers at --prune's share (not scheduled otherwise) that sparsegpt trusts, with their
    shares of it spread by sparsegpt.measured_sparsities; the others as they were."""
    from .sparsegpt import measured_sparsities, trusted

    pool = [i for i, (s, op, weight, sparsity) in enumerate(layers)
            if sparsity == options.sparsity and trusted(op, moments, (s, weight.name), options.block)
            and not any(_matches(key, _names(op, weight.name)) for key in options.schedule)]
    shares = measured_sparsities([(layers[i][1], layers[i][2].data, (layers[i][0], layers[i][2].name))
                                  for i in pool], moments, options.sparsity)
    measured = list(layers)
    for i, share in zip(pool, shares):
        measured[i] = layers[i][:3] + (share,)
    return measured


def _names(op: Op, weight: str) -> tuple[str, ...]:
    return tuple(n for n in (op.name, weight, *op.outputs[:1]) if n)


def _matches(key: str, names: tuple[str, ...]) -> bool:
    """A schedule key names a layer by its op, weight or output name, or a scope of them
    (`conv1` for conv1/Conv2D/filter_ohwi)."""
    return any(name == key or name.startswith(key + "/") for name in names)


def _sparsity_for(op: Op, weight: str, options: PruneOptions) -> float | None:
    """The schedule's sparsity for the layer (its longest matching key), else --prune's."""
    names = _names(op, weight)
    keys = [key for key in options.schedule if _matches(key, names)]
    return options.schedule[max(keys, key=len)] if keys else options.sparsity


def _check_schedule_names(graphs: list[Graph], schedule: dict[str, float]) -> None:
    layers = [_names(op, op.inputs[i]) for g in graphs for op in g.ops
              if (i := prunable(op)) is not None and i < len(op.inputs)]
    unknown = [key for key in schedule if not any(_matches(key, names) for names in layers)]
    if unknown:
        raise TocoError(f"--prune_schedule: no conv or FC layer named {', '.join(map(repr, unknown))}; name "
                        "layers by op, weight or output name as `toco-py inspect --tensors` of the float model does")


def prune_weights(weights: np.ndarray, sparsity: float, block: int = 1) -> np.ndarray:
    """A copy of the weights with round(sparsity * blocks) 1 x block runs (along the last axis of
    the [first axis, rest] rows) of least mean |w| set to zero."""
    rows = np.array(weights, np.float32).reshape(weights.shape[0], -1)
    width = rows.shape[1]
    runs = -(-width // block)
    padded = np.zeros((rows.shape[0], runs * block), np.float32)
    padded[:, :width] = np.abs(rows)
    # A run cut short by the row's end pools over the values it has.
    counts = np.minimum(block, width - np.arange(runs) * block)
    magnitude = padded.reshape(rows.shape[0], runs, block).sum(-1) / counts
    drop = int(round(sparsity * magnitude.size))
    order = np.argsort(magnitude.ravel(), kind="stable")[:drop]
    keep = np.ones(magnitude.size, bool)
    keep[order] = False
    mask = np.repeat(keep.reshape(magnitude.shape), block, axis=1)[:, :width]
    return np.where(mask, rows, np.float32(0)).reshape(weights.shape)
