"""The conversion pipeline as plain functions; the CLI and the tests call these."""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

from .compress.cluster import ClusterOptions, cluster_graph, clustering_note, quantizing_clustered
from .compress.prune import PruneOptions, prune_graph
from .compress.savings import Saving, gzip_size, measured
from .compress.sparse_encoding import store_pruned_sparse
from .errors import ConversionError
from .frontend.graphdef import load_graphdef, parse_graphdef
from .frontend.importer import import_graphdef
from .ir import Graph
from .ops.quantize_ops import is_quantized_tensor
from .passes import fold_constants, fuse_lstm
from .passes.densify import absorb_densify, insert_densify
from .passes.driver import PassLog
from .passes.emulate_fake_quant import drop_emulation, emulation_tensors
from .passes.propagate_shapes import require_static_shapes
from .passes.stages import run_all
from .passes.widen_float16 import widen_float16
from .preflight import check_control_flow, check_shapes, require_builtins, unsupported_ops
from .quantize.driver import QuantizeOptions, quantize_graph
from .targets import has_builtin
from .tensor_io import load_tflite
from .tflite.tflm_compression import summary as tflm_summary
from .tflite.writer import model_view, write_atomic


@dataclass
class ConversionResult:
    view: memoryview  # the .tflite, without a copy
    graph: Graph
    notes: list[str] = field(default_factory=list)
    pass_counts: dict[str, int] = field(default_factory=dict)
    # What each compression technique saved (compress/savings.py), when one was asked for,
    # and then the file's gzipped size.
    savings: list[Saving] = field(default_factory=list)
    gzip_bytes: int | None = None

    @property
    def model(self) -> bytes:
        """The .tflite as bytes (a copy, made on first use)."""
        if not hasattr(self, "_bytes"):
            self._bytes = bytes(self.view)
        return self._bytes


def _as_custom_ops(graph: Graph) -> None:
    """Every op without a builtin, in every subgraph, becomes a custom op of its TF name."""
    for op in (op for sub in graph.subgraphs or [graph] for op in sub.ops):
        if op.type != "CUSTOM" and not has_builtin(op):
            op.attrs = {"custom_code": op.type}
            op.type = "CUSTOM"


def run_passes(graph: Graph, log: Callable[[str], None] | None = None,
               after_pass: Callable[[str, Graph], None] | None = None,
               fold_limit: int | None = None, fake_quant: str = "emulate",
               fuse_rnn: bool = True, stateful_rnn: bool = False, fed_state_rnn: bool = True) -> dict[str, int]:
    """All pass stages; returns how often each pass rewrote something. fold_limit: the
    folding size limit in bytes; None keeps the current one. fake_quant: "emulate" or "drop"
    activation fake-quant nodes (see fake_quant_mode); fuse_rnn: see fuses_rnn;
    stateful_rnn: fused LSTMs carry their state over invokes; fed_state_rnn: a step whose
    state is fed in as graph inputs fuses too (passes/fuse_lstm.py)."""
    pass_log = PassLog(log)
    with fold_constants.limit(fold_limit), fuse_lstm.carrying_state(stateful_rnn, fed_state_rnn):
        run_all(graph, pass_log, after_pass, fake_quant, fuse_rnn)
    return dict(pass_log.counts)


def fuses_rnn(quantize: QuantizeOptions | None) -> bool:
    """Whether LSTM cells become one UNIDIRECTIONAL_SEQUENCE_LSTM: not for dynamic range, which
    has no hybrid LSTM (unfused, the cells' matmuls are hybrid), nor for 16x8, which has no
    LSTM scheme here (unfused, every op of the cells has a 16x8 kernel); float and int8
    (TFLite's 8x8_16 scheme, quantize/lstm.py) fuse them."""
    return quantize is None or quantize.mode not in ("dynamic", "int16x8")


def fake_quant_mode(drop_fake_quant: bool, quantize: QuantizeOptions | None) -> str:
    """What the passes do with activation fake-quant nodes. int8 takes its parameters from
    their ranges, so they go; float models (and dynamic / float16 ones, whose activations
    stay float) keep their rounding, as TensorFlow computes it, unless asked to drop them."""
    if drop_fake_quant or (quantize is not None and quantize.full_integer):
        return "drop"
    return "emulate"


def frontend_options(fold_limit: int | None = None) -> dict:
    """What the frontend needs from the pipeline (keyword arguments of its Importer): the
    folding limit (None: the current one), which also bounds the constants it expands
    (splats), and the passes under that limit, with which it infers the shape of an input
    cut out of the middle of a graph from the part upstream of it."""
    limit = fold_constants.size_limit if fold_limit is None else fold_limit
    return {"expand_limit": limit, "run_passes": partial(run_passes, fold_limit=limit)}


def import_checked(load_graphdef_fn: Callable, input_arrays=None, output_arrays=None,
                   input_shapes=None, fold_limit: int | None = None, propagate: bool = False,
                   on_import: Callable[[Graph], None] | None = None) -> tuple[Graph, list[str]]:
    """How every command reads a .pb: (graph, notes). The parsed GraphDef holds a copy of
    every weight; loading it here, inside the call, lets it go as soon as the import is done,
    before the passes make their own copies. fold_limit: see frontend_options. Every op's
    shape rule is then checked (check_shapes), so a malformed graph is reported naming its
    node. propagate: leave the inferred shapes on the graph (for the commands that run no
    pass). on_import(graph) sees the graph as imported, with the inferred shapes, before any
    pass (before.dot)."""
    graph, notes = import_graphdef(load_graphdef_fn(), input_arrays, output_arrays, input_shapes,
                                   **frontend_options(fold_limit))
    shaped = check_shapes(graph, in_place=propagate)
    if on_import is not None:
        on_import(shaped)
    return graph, notes


def graph_from_graphdef(gd, input_arrays=None, output_arrays=None, input_shapes=None, **pass_options):
    """Frontend and all passes: returns (graph, notes, pass counts)."""
    # The parsed GraphDef holds a copy of every weight: handed over (the list emptied when it
    # is taken) so that it goes as soon as the import is done, before the passes.
    holder = [gd]
    del gd
    graph, notes = import_checked(holder.pop, input_arrays, output_arrays, input_shapes,
                                  pass_options.get("fold_limit"))
    return graph, notes, run_passes(graph, **pass_options)


def load_graphdef_as_ir(path: str, input_arrays=None, output_arrays=None, input_shapes=None) -> Graph:
    """A frozen GraphDef through the frontend only (no passes): TensorFlow's semantics."""
    graph, _ = import_checked(lambda: load_graphdef(path), input_arrays, output_arrays,
                              input_shapes, propagate=True)
    return graph


def _written(graph: Graph, release_weights: bool = False, tflm_compression: bool = False) -> memoryview:
    """The .tflite of the graph, a DENSIFY put back in front of each sparse constant an op
    cannot read sparse (passes/densify.py); tflm_compression: see _convert."""
    for g in graph.subgraphs or [graph]:
        insert_densify(g)
    return model_view(graph, consume=release_weights, tflm_compression=tflm_compression)


def _compress(graph: Graph, quantize: QuantizeOptions | None, cluster: ClusterOptions | None,
              prune: PruneOptions | None) -> list[str]:
    """Pruning, clustering (keeping the pruned zeros), quantization, then the pruned weights
    stored sparse where that is smaller, in place; the notes of each."""
    notes = prune_graph(graph, prune) if prune is not None else []
    if cluster is not None:
        clustered = cluster_graph(graph, replace(cluster, keep_zeros=cluster.keep_zeros or prune is not None))
        notes.append(clustering_note(clustered, cluster))
        if quantize is not None:
            quantize = quantizing_clustered(quantize, clustered)
    if quantize is not None:
        notes += quantize_graph(graph, quantize)
    if prune is not None:
        notes.append(store_pruned_sparse(graph, prune.block))
    return notes


def _compress_and_quantize(graph: Graph, quantize: QuantizeOptions | None, cluster: ClusterOptions | None,
                           release_weights: bool = False, tflm_compression: bool = False,
                           prune: PruneOptions | None = None, measure_savings: bool = True) -> ConversionResult:
    """_compress, then writing. With pruning or clustering, the gzipped size and, with
    measure_savings, what each technique saved: the same conversion is also written without it
    (and without quantization), which costs a conversion per technique."""
    compressing = prune is not None or cluster is not None
    original = copy.deepcopy(graph) if compressing and measure_savings else None
    notes = _compress(graph, quantize, cluster, prune)
    if tflm_compression:
        notes.append(tflm_summary(graph))
    view = _written(graph, release_weights, tflm_compression)
    result = ConversionResult(view, graph, notes)
    if not compressing:
        return result
    result.gzip_bytes = gzip_size(view)
    if original is None:
        return result
    without = {}
    if prune is not None:
        without[f"pruning ({prune.describe()})"] = (quantize, cluster, None)
    if cluster is not None:
        without[f"clustering ({cluster.describe()})"] = (quantize, None, prune)
    if quantize is not None:
        without[f"quantization ({quantize.mode})"] = (None, cluster, prune)
    for technique, options in without.items():
        other = copy.deepcopy(original)
        _compress(other, *options)
        result.savings.append(measured(technique, _written(other, True, tflm_compression), len(view),
                                       result.gzip_bytes))
    return result


def _convert(load_graphdef_fn: Callable, input_arrays, output_arrays, input_shapes,
             allow_custom_ops: bool, quantize: QuantizeOptions | None = None,
             release_weights: bool = False, on_import: Callable[[Graph], None] | None = None,
             drop_fake_quant: bool = False, cluster: ClusterOptions | None = None,
             tflm_compression: bool = False, prune: PruneOptions | None = None,
             measure_savings: bool = True, **pass_options) -> ConversionResult:
    """pass_options: log, after_pass, fold_limit (see run_passes); on_import: see
    import_checked; drop_fake_quant: TOCO's flag, see fake_quant_mode; prune: --prune; cluster: --cluster;
    tflm_compression: clustered filters written as TFLM's look-up-table tensors
    (tflite/tflm_compression.py); measure_savings=False: no savings rows (the benchmarks'
    conversions skip their cost)."""
    graph, notes = import_checked(load_graphdef_fn, input_arrays, output_arrays, input_shapes,
                                  pass_options.get("fold_limit"), on_import=on_import)
    fuse_rnn = pass_options.pop("fuse_rnn", fuses_rnn(quantize))  # (benchmarks compare both)
    counts = run_passes(graph, fake_quant=fake_quant_mode(drop_fake_quant, quantize), fuse_rnn=fuse_rnn,
                        fed_state_rnn=quantize is None or quantize.mode != "int8", **pass_options)
    fused = counts.get("fuse/fuse_lstm") or counts.get("fuse_loops/fuse_lstm_loop")
    if pass_options.get("stateful_rnn") and not fused:
        notes.append("--stateful_rnn: no LSTM was fused, so the model keeps its interface")
    unsupported = unsupported_ops(graph)
    check_control_flow(unsupported)
    if not allow_custom_ops:
        require_builtins(unsupported)
    elif unsupported:
        _as_custom_ops(graph)
        notes.append(f"emitted as custom ops: {', '.join(sorted(unsupported))}")
    for sub in graph.subgraphs or [graph]:
        require_static_shapes(sub, called=sub is not graph)
    result = _compress_and_quantize(graph, quantize, cluster, release_weights, tflm_compression, prune,
                                    measure_savings)
    result.notes[:0], result.pass_counts = notes, counts
    return result


def convert(graph_def_file: str, output_file: str | None = None, **kwargs) -> ConversionResult:
    """Converts a frozen GraphDef file; writes the .tflite atomically when output_file is set.
    release_weights=True lowers peak memory but leaves result.graph without its constants;
    drop_fake_quant=True drops activation fake-quant nodes in a float model (TOCO's flag)."""
    result = _convert(lambda: load_graphdef(graph_def_file), kwargs.pop("input_arrays", None),
                      kwargs.pop("output_arrays", None), kwargs.pop("input_shapes", None),
                      kwargs.pop("allow_custom_ops", False), **kwargs)
    if output_file:
        write_atomic(output_file, result.view)
    return result


def convert_bytes(graph_def: bytes, input_arrays=None, output_arrays=None, input_shapes=None,
                  allow_custom_ops: bool = False, quantize: QuantizeOptions | None = None,
                  drop_fake_quant: bool = False, **pass_options) -> ConversionResult:
    return _convert(lambda: parse_graphdef(graph_def), input_arrays, output_arrays, input_shapes,
                    allow_custom_ops, quantize, drop_fake_quant=drop_fake_quant, **pass_options)


def quantize_tflite(input_file: str, output_file: str | None, options: QuantizeOptions | None,
                    cluster: ClusterOptions | None = None, tflm_compression: bool = False,
                    prune: PruneOptions | None = None) -> ConversionResult:
    """Quantizes an existing float .tflite (every subgraph); prunes and clusters its weights
    first when asked (options None: no quantization, a float16 model's weights staying
    float16); tflm_compression: as _convert."""
    graph, _ = load_tflite(input_file)
    graphs = graph.subgraphs or [graph]
    widened = 0
    for g in graphs:  # the quantizers rewrite constants: sparse and float16 ones show as such
        absorb_densify(g)
        widened += widen_float16(g)
    notes = [f"{widened} float16 weight tensors read as float32"] if widened else []
    if widened and options is None:  # only pruned or clustered: the weights stay float16
        options = QuantizeOptions("float16")
    if options is not None and options.full_integer:  # as convert does: the fake-quant ranges set the integer params
        dropped = drop_emulation(graph)
        if dropped:
            notes.append(f"{dropped} fake-quant ops dropped, their ranges kept")
    # A float model's fake-quant emulation holds integer tensors; it is no quantized model.
    emulation = emulation_tensors(graph)
    already = [n for n, t in graph.tensors.items()
               if is_quantized_tensor(t) and n not in emulation]
    if already:
        raise ConversionError(f"{input_file} is already quantized (e.g. tensor {already[0]!r}); "
                              "pass the float model")
    result = _compress_and_quantize(graph, options, cluster, tflm_compression=tflm_compression, prune=prune)
    result.notes[:0] = notes
    if output_file:
        write_atomic(output_file, result.view)
    return result
