"""TFLite's sparse tensor format (SparsityParameters): a constant stored as its nonzero values
plus, per dimension, how to find them; LiteRT's DENSIFY op (or a FULLY_CONNECTED that reads
the format itself) restores the dense tensor.

The format, as LiteRT's FormatConverter reads it (kernels/internal/utils/
sparsity_format_converter.cc). A tensor of rank n may be cut into blocks: block dimension j
(n + j in the expanded numbering) splits original dimension block_map[j] into
(size / block size, block size). The n + k expanded dimensions are visited in
traversal_order, the n original ones first; each visited dimension is a level of a tree:

- DENSE: every node of the level above has dense_size children here;
- SPARSE_CSR: node p of the level above has the children array_indices[segments[p] :
  segments[p + 1]] (their coordinates along this dimension); a child exists when its subtree
  holds a nonzero.

The leaves, in traversal order, are the stored values; a DENSE last level stores the zeros
among them too. Block levels are always DENSE (the converter's "only dense blocks").

The IR keeps a sparse constant dense in Tensor.data, and its layout (SparseFormat: the
traversal order, blocks, per-level format and index types) in Tensor.sparsity; the writer
re-encodes the data in that layout (`sparsify`), so passes and kernels never see the
compressed form.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tflite as fb  # the schema's generated readers and builders

from ..errors import InternalError
from .checks import CheckedTable, InvalidModelError, numbers, tables

# SparseIndexVector 1, 2, 3 (schema order), as numpy types; widest first.
INDEX_TYPES = ("int32", "uint16", "uint8")
# The block sizes TensorFlow's converter tries for FULLY_CONNECTED weights (tfl_ops.td,
# GetFloatBlockSize / GetQuantizedBlockSize); LiteRT's FULLY_CONNECTED reads exactly these
# (and, in float, unblocked rows) without a DENSIFY (fully_connected.cc).
FC_FLOAT_BLOCK = 4
FC_INT8_BLOCK = 16


@dataclass(frozen=True)
class SparseFormat:
    """The layout of a sparse tensor, without its contents (what Tensor.sparsity holds).

    traversal_order: the n original dimensions (a permutation), then the k block dimensions
    (n .. n + k - 1, a permutation). block_map[j]: the original dimension block dimension j
    splits (increasing), block_size[j] its size. sparse[level]: whether the level (in
    traversal order) is SPARSE_CSR. index_types[level]: (segments, indices) numpy types of a
    sparse level, None to choose the smallest that fits (as TensorFlow's converter does);
    None for a dense level."""

    traversal_order: tuple[int, ...]
    block_map: tuple[int, ...] = ()
    block_size: tuple[int, ...] = ()
    sparse: tuple[bool, ...] = ()
    index_types: tuple[tuple[str, str] | None, ...] = ()

    @property
    def rank(self) -> int:
        return len(self.traversal_order) - len(self.block_map)


@dataclass(frozen=True)
class Level:
    """One level of SparsityParameters.dim_metadata: DENSE (dense_size) or SPARSE_CSR
    (segments, indices: int64 arrays, and the types they are stored in)."""

    sparse: bool
    dense_size: int = 0
    segments: np.ndarray | None = None
    indices: np.ndarray | None = None
    segments_type: str = "int32"
    indices_type: str = "int32"


@dataclass(frozen=True)
class Sparsity:
    """SparsityParameters as the file holds them."""

    traversal_order: tuple[int, ...]
    block_map: tuple[int, ...]
    levels: tuple[Level, ...]

    @property
    def format(self) -> SparseFormat:
        n = len(self.traversal_order) - len(self.block_map)
        return SparseFormat(
            self.traversal_order, self.block_map,
            tuple(self.levels[self.traversal_order.index(n + j)].dense_size
                  for j in range(len(self.block_map))),
            tuple(level.sparse for level in self.levels),
            tuple((level.segments_type, level.indices_type) if level.sparse else None
                  for level in self.levels))

    def index_bytes(self) -> int:
        """Bytes of the segments and indices arrays (the values are the buffer)."""
        return sum(level.segments.size * np.dtype(level.segments_type).itemsize
                   + level.indices.size * np.dtype(level.indices_type).itemsize
                   for level in self.levels if level.sparse)


# ---- the layout's geometry --------------------------------------------------------------


def _expanded_sizes(shape: tuple[int, ...], fmt: SparseFormat) -> list[int]:
    """Sizes of the n + k expanded dimensions (original ones reduced by their blocks)."""
    sizes = list(shape) + list(fmt.block_size)
    for m, b in zip(fmt.block_map, fmt.block_size):
        sizes[m] //= b
    return sizes


def _expand(dense: np.ndarray, fmt: SparseFormat) -> np.ndarray:
    """The dense tensor as the (n + k)-dimensional array of expanded coordinates, in
    traversal order."""
    split: list[int] = []
    outer_axes, block_axes = [], {}
    for d, size in enumerate(dense.shape):
        outer_axes.append(len(split))
        if d in fmt.block_map:
            b = fmt.block_size[fmt.block_map.index(d)]
            block_axes[d] = len(split) + 1
            split += [size // b, b]
        else:
            split.append(size)
    expanded = dense.reshape(split).transpose(outer_axes + [block_axes[m] for m in fmt.block_map])
    return expanded.transpose(fmt.traversal_order)


# ---- dense -> sparse ----------------------------------------------------------------------


def sparsify(dense: np.ndarray, fmt: SparseFormat) -> tuple[np.ndarray, Sparsity]:
    """The values and parameters LiteRT densifies back to `dense` (FormatConverter's
    DenseToSparse): per level, the nodes under a kept parent, at a sparse level only those
    whose subtree holds a nonzero; the values are the last level's kept nodes."""
    dense = np.asarray(dense)
    check_format(fmt, dense.shape)
    tree = _expand(dense, fmt)
    nonzero = tree != 0
    kept = np.ones((), bool)  # the root
    levels = []
    for level, size in enumerate(tree.shape):
        parents = kept
        if fmt.sparse[level]:
            below = nonzero.any(axis=tuple(range(level + 1, tree.ndim))) if level + 1 < tree.ndim \
                else nonzero
            kept = parents[..., None] & below
            counts = kept.reshape(-1, size)[parents.reshape(-1)].sum(axis=1)
            segments = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            indices = np.nonzero(kept)[level].astype(np.int64)
            chosen = fmt.index_types[level] if level < len(fmt.index_types) else None
            levels.append(Level(True, 0, segments, indices,
                                _index_type(segments, chosen and chosen[0]),
                                _index_type(indices, chosen and chosen[1])))
        else:
            kept = np.broadcast_to(parents[..., None], parents.shape + (size,))
            levels.append(Level(False, size))
    values = np.ascontiguousarray(tree[kept])
    return values, Sparsity(fmt.traversal_order, fmt.block_map, tuple(levels))


def _index_type(values: np.ndarray, chosen: str | None) -> str:
    """The smallest index type holding `values`, or `chosen` when that is wide enough."""
    top = int(values.max()) if values.size else 0
    fitting = next(t for t in reversed(INDEX_TYPES) if top <= np.iinfo(t).max)
    if chosen is not None and np.iinfo(chosen).max >= np.iinfo(fitting).max:
        return chosen
    return fitting


# ---- sparse -> dense ----------------------------------------------------------------------


def densify(values: np.ndarray, sparsity: Sparsity, shape: tuple[int, ...]) -> np.ndarray:
    """The dense tensor of `shape` (FormatConverter's SparseToDense); the parameters must have
    passed `check`."""
    fmt = sparsity.format
    n = len(shape)
    coords = np.zeros((0, 1), np.int64)  # [level, node]: the root, at no level yet
    for level in sparsity.levels:
        if level.sparse:
            counts = np.diff(level.segments)
            coords = np.concatenate([np.repeat(coords, counts, axis=1),
                                     level.indices[None, :]])
        else:
            size = level.dense_size
            coords = np.concatenate([np.repeat(coords, size, axis=1),
                                     np.tile(np.arange(size, dtype=np.int64),
                                             coords.shape[1])[None, :]])
    index = [np.zeros(coords.shape[1], np.int64) for _ in range(n)]
    for position, dim in enumerate(fmt.traversal_order):
        if dim < n:
            index[dim] = coords[position]
        else:  # a block level refines its original dimension, as Populate does
            j = dim - n
            m = fmt.block_map[j]
            index[m] = index[m] * fmt.block_size[j] + coords[position]
    dense = np.zeros(shape, values.dtype)
    if n:
        dense[tuple(index)] = values
    else:
        dense[()] = values[0]
    return dense


# ---- validation ---------------------------------------------------------------------------


def check_format(fmt: SparseFormat, shape: tuple[int, ...]) -> None:
    """A layout that fits `shape`, else a ValueError (the caller's mistake)."""
    problem = _format_problem(fmt, tuple(shape))
    if problem:
        raise ValueError(f"sparse format {fmt} does not fit shape {list(shape)}: {problem}")


def _format_problem(fmt: SparseFormat, shape: tuple[int, ...]) -> str:
    n, k = len(shape), len(fmt.block_map)
    order = list(fmt.traversal_order)
    if len(order) != n + k:
        return (f"traversal order {order} has {len(order)} entries, not the {n} dimensions "
                f"plus {k} block dimensions")
    if sorted(order[:n]) != list(range(n)) or sorted(order[n:]) != list(range(n, n + k)):
        return (f"traversal order {order} is not a permutation of the dimensions 0..{n - 1} "
                f"followed by one of the block dimensions {n}..{n + k - 1}")
    if len(fmt.sparse) != n + k:
        return f"{len(fmt.sparse)} level formats for {n + k} levels"
    if list(fmt.block_map) != sorted(set(fmt.block_map)) or any(not 0 <= m < n for m in fmt.block_map):
        # FormatConverter matches block_map against the dimensions in increasing order.
        return f"block map {list(fmt.block_map)} is not increasing within 0..{n - 1}"
    for level, dim in enumerate(order):
        if dim >= n and fmt.sparse[level]:
            return f"block dimension {dim} is SPARSE_CSR (LiteRT reads dense blocks only)"
    if len(fmt.block_size) != k:
        return f"{len(fmt.block_size)} block sizes for {k} block dimensions"
    for m, b in zip(fmt.block_map, fmt.block_size):
        if b <= 0 or shape[m] % b:
            return f"block size {b} does not divide dimension {m} of size {shape[m]}"
    # FormatConverter takes block j's size from level traversal_order[n + j] rather than
    # from the level that visits dimension n + j: they agree unless the block dimensions
    # are visited in an order that is not its own inverse.
    for j in range(k):
        if order[order[n + j]] != n + j and fmt.block_size[order[order[n + j]] - n] != fmt.block_size[j]:
            return (f"block dimensions traversed in the order {order[n:]}, which LiteRT "
                    "reads with the wrong block sizes")
    return ""


def check(sparsity: Sparsity, shape: tuple[int, ...], value_count: int, where: str) -> None:
    """Everything LiteRT's verifier checks, and whatever would make densify read out of
    range; a one-line InvalidModelError otherwise. The numbers of nodes are bounded by the
    dense element count (indices strictly increase within a segment), so no check here
    allocates more than the tensor itself."""
    n, order = len(shape), sparsity.traversal_order
    if len(sparsity.levels) != len(order):
        raise InvalidModelError(f"{where}: sparsity has {len(sparsity.levels)} dim_metadata "
                                f"entries for a traversal order of {len(order)}")
    # Block j's size is the dense_size of the level that visits dimension n + j.
    blocks = tuple(sparsity.levels[order.index(n + j)].dense_size if n + j in order else 0
                   for j in range(len(sparsity.block_map)))
    fmt = SparseFormat(order, sparsity.block_map, blocks,
                       tuple(level.sparse for level in sparsity.levels))
    problem = _format_problem(fmt, shape)
    if problem:
        raise InvalidModelError(f"{where}: sparsity {problem}")
    sizes = _expanded_sizes(shape, fmt)
    nodes = 1
    for position, (level, dim) in enumerate(zip(sparsity.levels, sparsity.traversal_order)):
        what = f"{where}: sparsity level {position} (dimension {dim})"
        if not level.sparse:
            if level.dense_size != sizes[dim]:
                raise InvalidModelError(f"{what}: dense_size {level.dense_size}, but the "
                                        f"dimension has {sizes[dim]}")
            nodes *= sizes[dim]
            continue
        nodes = _check_csr(level, nodes, sizes[dim], what)
    if value_count != nodes:
        raise InvalidModelError(f"{where}: the buffer holds {value_count} values, the sparsity "
                                f"parameters describe {nodes}")


def _check_csr(level: Level, parents: int, size: int, what: str) -> int:
    """The number of nodes of a SPARSE_CSR level under `parents` nodes."""
    segments, indices = level.segments, level.indices
    if segments.size != parents + 1:
        raise InvalidModelError(f"{what}: {segments.size} segments for {parents} parent "
                                f"nodes (needs {parents + 1})")
    if segments[0] != 0 or np.any(np.diff(segments) < 0):
        raise InvalidModelError(f"{what}: array_segments must start at 0 and never decrease")
    if segments[-1] != indices.size:
        raise InvalidModelError(f"{what}: array_segments ends at {segments[-1]}, but "
                                f"array_indices holds {indices.size}")
    if indices.size and (indices.min() < 0 or indices.max() >= size):
        raise InvalidModelError(f"{what}: array_indices outside 0..{size - 1}")
    # Within a segment the indices strictly increase: a repeated one would mean two values
    # for one element (DENSIFY keeps the last, the sparse FULLY_CONNECTED adds them).
    starts = np.zeros(indices.size, bool)
    starts[segments[:-1][segments[:-1] < indices.size]] = True
    if np.any((np.diff(indices) <= 0) & ~starts[1:]):
        raise InvalidModelError(f"{what}: array_indices do not strictly increase within "
                                "a segment")
    return int(indices.size)


# ---- the FlatBuffer tables ------------------------------------------------------------------


_VECTOR_CLASSES = (fb.Int32Vector, fb.Uint16Vector, fb.Uint8Vector)  # SparseIndexVector 1, 2, 3


def read_sparse_constant(table, values: np.ndarray, shape: tuple[int, ...], where: str
                         ) -> tuple[np.ndarray, SparseFormat]:
    """The dense value and the layout of a constant whose Tensor.sparsity is `table` (a
    checked fb.SparsityParameters) and whose buffer holds `values`."""
    if table.TraversalOrderIsNone() or table.DimMetadataIsNone():
        # InterpreterBuilder::ParseSparsity refuses these too.
        raise InvalidModelError(f"{where}: sparsity parameters without traversal_order or "
                                "dim_metadata")
    levels = tuple(_level(m, f"{where}: sparsity level {i}")
                   for i, m in enumerate(tables(table, "DimMetadata")))
    sparsity = Sparsity(tuple(numbers(table, "TraversalOrder").tolist()),
                        tuple(numbers(table, "BlockMap").tolist()), levels)
    check(sparsity, shape, values.size, where)
    return densify(values, sparsity, shape), sparsity.format


def _level(meta, where: str) -> Level:
    kind = meta.Format()
    if kind == fb.DimensionType.DENSE:
        return Level(False, meta.DenseSize())
    if kind != fb.DimensionType.SPARSE_CSR:
        raise InvalidModelError(f"{where}: unknown dimension type {kind}")
    segments, segments_type = _index_vector(meta, "Segments", where)
    indices, indices_type = _index_vector(meta, "Indices", where)
    return Level(True, 0, segments, indices, segments_type, indices_type)


def _index_vector(meta, part: str, where: str) -> tuple[np.ndarray, str]:
    """array_segments or array_indices: its values (int64) and its type."""
    kind = getattr(meta, f"Array{part}Type")()
    found = getattr(meta, f"Array{part}")()
    if not 1 <= kind <= len(_VECTOR_CLASSES) or found is None:
        raise InvalidModelError(f"{where}: SPARSE_CSR without an array_{part.lower()} of "
                                "Int32Vector, Uint16Vector or Uint8Vector")
    vector = _VECTOR_CLASSES[kind - 1]()
    vector._tab = CheckedTable(meta._tab.src, found.Pos)
    return numbers(vector, "Values").astype(np.int64), INDEX_TYPES[kind - 1]


def build_sparsity(b, sparsity: Sparsity) -> int:
    """The SparsityParameters table of `sparsity`, in builder `b`; written as TensorFlow's
    converter writes it (flatbuffer_export.cc, BuildSparsityParameters)."""
    levels = []
    for level in sparsity.levels:
        if level.sparse:
            segments = _build_index_vector(b, level.segments, level.segments_type)
            indices = _build_index_vector(b, level.indices, level.indices_type)
        fb.DimensionMetadataStart(b)
        if level.sparse:
            fb.DimensionMetadataAddFormat(b, fb.DimensionType.SPARSE_CSR)
            fb.DimensionMetadataAddArraySegmentsType(b, INDEX_TYPES.index(level.segments_type) + 1)
            fb.DimensionMetadataAddArraySegments(b, segments)
            fb.DimensionMetadataAddArrayIndicesType(b, INDEX_TYPES.index(level.indices_type) + 1)
            fb.DimensionMetadataAddArrayIndices(b, indices)
        else:
            fb.DimensionMetadataAddFormat(b, fb.DimensionType.DENSE)
            fb.DimensionMetadataAddDenseSize(b, level.dense_size)
        levels.append(fb.DimensionMetadataEnd(b))
    fb.SparsityParametersStartDimMetadataVector(b, len(levels))
    for offset in reversed(levels):
        b.PrependUOffsetTRelative(offset)
    dim_metadata = b.EndVector()
    block_map = b.CreateNumpyVector(np.asarray(sparsity.block_map, np.int32))
    traversal_order = b.CreateNumpyVector(np.asarray(sparsity.traversal_order, np.int32))
    fb.SparsityParametersStart(b)
    fb.SparsityParametersAddTraversalOrder(b, traversal_order)
    fb.SparsityParametersAddBlockMap(b, block_map)
    fb.SparsityParametersAddDimMetadata(b, dim_metadata)
    return fb.SparsityParametersEnd(b)


def _build_index_vector(b, values: np.ndarray, dtype: str) -> int:
    kind = INDEX_TYPES.index(dtype)
    name = _VECTOR_CLASSES[kind].__name__
    vector = b.CreateNumpyVector(np.asarray(values, dtype))
    getattr(fb, f"{name}Start")(b)
    getattr(fb, f"{name}AddValues")(b, vector)
    return getattr(fb, f"{name}End")(b)


# ---- sizes and the layouts the converters write ------------------------------------------


def stored_bytes(dense: np.ndarray, fmt: SparseFormat) -> int:
    """Bytes the tensor takes stored in `fmt`: its values plus the index arrays (the
    FlatBuffer's few bytes of tables and vector lengths aside)."""
    values, sparsity = sparsify(dense, fmt)
    return values.nbytes + sparsity.index_bytes()


def tf_format(rank: int, block: tuple[int, ...] | None = None) -> SparseFormat:
    """The layout TensorFlow's converter writes (dense_to_sparse_pass.cc,
    PopulateEncodingParams): dimensions in order, all DENSE but the last SPARSE_CSR, one DENSE
    block dimension after them for each dimension whose block size is not 1; index types
    the smallest that fit."""
    block = tuple(block) if block is not None else (1,) * rank
    if len(block) != rank:
        raise ValueError(f"block {block} has not one size for each of {rank} dimensions")
    block_map = tuple(d for d, b in enumerate(block) if b != 1)
    k = len(block_map)
    return SparseFormat(tuple(range(rank + k)), block_map, tuple(block[m] for m in block_map),
                        (False,) * (rank - 1) + (True,) + (False,) * k,
                        (None,) * (rank + k))


def encode_like_tf(dense: np.ndarray, block: tuple[int, ...] | None = None
                   ) -> tuple[np.ndarray, Sparsity]:
    """`dense` encoded as TensorFlow's converter encodes a pruned weight; block e.g. (1, 4)
    (FULLY_CONNECTED float), (1, 16) (int8), None for no blocks."""
    dense = np.asarray(dense)
    return sparsify(dense, tf_format(dense.ndim, block))


def fc_reads_directly(fmt: SparseFormat, weight_dtype: str, input_dtype: str) -> bool:
    """Whether LiteRT's FULLY_CONNECTED takes weights stored in `fmt` without a DENSIFY
    (fully_connected.cc): rows DENSE then columns SPARSE_CSR, in order; float32 unblocked or
    in 1x4 blocks, int8 (full integer or hybrid) in 1x16 blocks."""
    if fmt.traversal_order[:2] != (0, 1) or fmt.sparse[:2] != (False, True) or fmt.rank != 2:
        return False
    if weight_dtype == "float32" and input_dtype == "float32":
        return fmt.block_map == () or (fmt.block_map == (1,) and fmt.block_size == (FC_FLOAT_BLOCK,))
    if weight_dtype == "int8" and input_dtype in ("int8", "float32"):
        return fmt.block_map == (1,) and fmt.block_size == (FC_INT8_BLOCK,)
    return False


def reads_sparse(graph, op, k: int) -> bool:
    """Whether LiteRT's `op` reads its input k as stored sparse: DENSIFY, and the weights of a
    FULLY_CONNECTED in a layout it takes (fc_reads_directly). Any other op would read the
    compressed values as if they were the dense tensor."""
    t = graph.tensors[op.inputs[k]]
    if t.sparsity is None:
        return False
    if op.type == "DENSIFY":
        return True
    if op.type == "FULLY_CONNECTED" and k == 1:
        return fc_reads_directly(t.sparsity, t.dtype, graph.tensors[op.inputs[0]].dtype)
    return False


def check_sparse_readers(graph) -> None:
    """Every sparse constant is read only by ops that read it sparse, and every DENSIFY reads
    a sparse constant (LiteRT's DENSIFY refuses anything else); a bug of ours otherwise."""
    for op in graph.ops:
        for k, name in enumerate(op.inputs):
            if not name:
                continue
            t = graph.tensors[name]
            if (t.sparsity is not None) != (op.type == "DENSIFY" or reads_sparse(graph, op, k)) \
                    or (op.type == "DENSIFY" and t.data is None):
                raise InternalError(f"writing {op!r}: its input {name!r} is "
                                    + ("stored sparse, which LiteRT's kernel would not read"
                                       if t.sparsity is not None else
                                       "no sparse constant, which LiteRT's DENSIFY refuses"))


def describe(fmt: SparseFormat) -> str:
    """The layout in a few words: 'levels 0:DENSE 1:CSR(uint8/uint16) 2:DENSE, blocks 1x4 on
    dimension 1' (levels in traversal order, by the dimension each visits)."""
    levels = " ".join(
        f"{dim}:" + (f"CSR({types[0]}/{types[1]})" if sparse and types else
                     "CSR" if sparse else "DENSE")
        for dim, sparse, types in zip(fmt.traversal_order, fmt.sparse,
                                      fmt.index_types or (None,) * len(fmt.sparse)))
    if not fmt.block_map:
        return f"levels {levels}"
    blocks = ", ".join(f"{b} on dimension {m}" for m, b in zip(fmt.block_map, fmt.block_size))
    return f"levels {levels}; blocks of {blocks}"
