"""The TFLite reader under thousands of random corruptions of valid models (models of several
subgraphs among them): every case ends in a one-line InvalidModelError or a valid model,
never another exception, a hang or a large allocation. Then subgraph references broken on
purpose: each is refused with a message naming the op and the subgraph."""
from __future__ import annotations

import collections
import dataclasses
import signal
import struct
import threading
import time
import tracemalloc

import numpy as np
import pytest

from tests.support import tiny_tflite as tt
from tests.support.cli import assert_one_line_error, toco
from tests.support.tflite_samples import sample_files
from toco_py.tflite.options import TENSOR_TYPES
from toco_py.tflite.reader import InvalidModelError, read_model
from toco_py.tflite.writer import model_bytes


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return sample_files(tmp_path_factory.mktemp("reader_fuzz"))


# ---- fuzzing ---------------------------------------------------------------------------

FUZZ_SEED = 1234
FUZZ_FILES = {"ours_mlp": 1500, "ours_cnn": 1500, "tf_cnn": 1800, "tf_cnn_int8": 1800,
              "tf_while": 1800, "tf_cond": 1500, "tf_state": 1500, "tiny_external": 1600,
              "ours_sparse": 1600}
CASE_SECONDS = 2.0
CASE_PEAK_BYTES = 4 << 20


class _Hang(Exception):
    pass


def _interesting(data: bytes, rng) -> int:
    n = len(data)
    choices = [0, 1, 2, 3, 4, 0x7F, 0x80, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000,
               0xFFFFFFFF, 0xFFFFFFFE, n, n - 4, n + 4, n // 2, int(rng.integers(1 << 32))]
    return choices[rng.integers(len(choices))] & 0xFFFFFFFF


MUTATIONS = ("bits", "bytes", "truncate", "word", "structure", "index", "drop", "subgraph")


def _mutate(data: bytes, rng, targets: dict[str, list[int]]) -> tuple[str, bytes]:
    buf = bytearray(data)
    kind = MUTATIONS[rng.integers(len(MUTATIONS))]
    if kind == "subgraph" and not targets["subgraph"]:
        kind = "index"  # a model of one subgraph has no subgraph index to break
    if kind == "bits":
        for _ in range(rng.integers(1, 9)):
            buf[rng.integers(len(buf))] ^= 1 << int(rng.integers(8))
    elif kind == "bytes":
        pos = int(rng.integers(len(buf)))
        chunk = rng.integers(0, 256, int(rng.integers(1, 17)), dtype=np.uint8).tobytes()
        buf[pos : pos + len(chunk)] = chunk[: len(buf) - pos]
    elif kind == "truncate":
        del buf[rng.integers(len(buf)):]
    elif kind == "drop":
        for _ in range(rng.integers(1, 4)):
            spots = targets["vtable"]
            struct.pack_into("<H", buf, spots[rng.integers(len(spots))], 0)
    elif kind == "subgraph":
        # The samples have 2 or 3 subgraphs: the entry point (0), valid ones, one past the
        # end and beyond, negative ones.
        values = [0, 1, 2, 3, 4, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF]
        pos = int(targets["subgraph"][rng.integers(len(targets["subgraph"]))])
        struct.pack_into("<I", buf, pos, values[rng.integers(len(values))])
    elif kind == "index":
        # Out of range for every index of these small models (-1 is legal for op inputs).
        values = [0xFFFFFFFF, 0xFFFFFFFE, 0x7FFFFFFF, 0x80000000, 0xFFFF, 1000, len(data)]
        pos = min(int(targets["index"][rng.integers(len(targets["index"]))]), len(buf) - 4)
        struct.pack_into("<I", buf, pos, values[rng.integers(len(values))])
    else:
        spots = targets[kind] if kind == "structure" else range(len(buf) - 3)
        pos = min(int(spots[rng.integers(len(spots))]), len(buf) - 4)
        struct.pack_into("<I", buf, pos, _interesting(data, rng))
    return kind, bytes(buf)


def _assert_well_formed(model) -> None:
    """What a caller may rely on in any model the reader returns."""
    assert len(model.op_versions) == len(model.graphs) >= 1
    for graph, versions in zip(model.graphs, model.op_versions):
        assert len(versions) == len(graph.ops)
        for op in graph.ops:
            assert all(n == "" or n in graph.tensors for n in op.inputs)
            assert all(n in graph.tensors for n in op.outputs)
        assert all(n in graph.tensors for n in graph.inputs + graph.outputs)
        for name, t in graph.tensors.items():
            assert name == t.name and t.dtype in TENSOR_TYPES
            assert t.shape is None or all(d >= -1 for d in t.shape)
            if t.is_const:
                assert t.data.shape == t.shape
            if t.quant is not None:
                assert t.quant.scale.size == t.quant.zero_point.size >= 1
    for sig in model.signatures.values():
        tensors = model.graphs[sig.subgraph].tensors
        assert all(n in tensors for n in list(sig.inputs.values()) + list(sig.outputs.values()))


def _read_one(data: bytes) -> str:
    """'error' or 'valid'; anything else fails the test."""
    try:
        model = read_model(data, "fuzz.tflite")
    except InvalidModelError as e:
        assert e.__cause__ is None, f"no named check caught this: {e}"
        assert str(e).startswith("fuzz.tflite: ") and "\n" not in str(e)
        return "error"
    _assert_well_formed(model)
    return "valid"


def _on_alarm(signum, frame):
    raise _Hang()


def test_fuzzed_models_fail_cleanly(files):
    rng = np.random.default_rng(FUZZ_SEED)
    can_alarm = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGALRM, _on_alarm) if can_alarm else None
    stats: collections.Counter = collections.Counter()
    slowest, most_memory = 0.0, 0
    tracemalloc.start()
    try:
        for name, cases in FUZZ_FILES.items():
            data = files[name][0]
            targets = tt.field_positions(data)
            for case in range(cases):
                kind, mutated = _mutate(data, rng, targets)
                where = f"{name} case {case} ({kind})"
                tracemalloc.reset_peak()
                before = tracemalloc.get_traced_memory()[0]
                start = time.perf_counter()
                if can_alarm:
                    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
                try:
                    outcome = _read_one(mutated)
                except _Hang:
                    pytest.fail(f"{where}: no result after {CASE_SECONDS} s")
                except AssertionError as e:
                    raise AssertionError(f"{where}: {e}") from e
                except Exception as e:  # noqa: BLE001 - any other exception is the failure
                    pytest.fail(f"{where}: {type(e).__name__}: {e}")
                finally:
                    if can_alarm:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                elapsed = time.perf_counter() - start
                slowest = max(slowest, elapsed)
                assert elapsed < CASE_SECONDS, where
                grown = tracemalloc.get_traced_memory()[1] - before
                assert grown < CASE_PEAK_BYTES, f"{where}: allocated {grown} bytes"
                most_memory = max(most_memory, grown)
                stats[kind, outcome] += 1
    finally:
        tracemalloc.stop()
        if can_alarm:
            signal.signal(signal.SIGALRM, previous)
    total = sum(stats.values())
    errors = sum(n for (_, outcome), n in stats.items() if outcome == "error")
    print(f"\nfuzz: {total} cases, {errors} errors, {total - errors} valid, "
          f"slowest {slowest * 1000:.1f} ms, peak {most_memory >> 10} KiB, "
          f"by kind {dict(sorted(stats.items()))}")
    # Every kind of mutation was drawn.
    assert {kind for kind, _ in stats} == set(MUTATIONS), dict(stats)
    # Both outcomes must be common, or the mutations are not exercising the reader.
    assert 0.2 * total < errors < 0.9 * total
    for kind in ("structure", "index", "truncate", "subgraph"):
        assert stats[kind, "error"] > stats[kind, "valid"], kind


# ---- subgraph references -----------------------------------------------------------------

def _call_from(model, s: int, **attrs) -> None:
    """Subgraph s gets a copy of the main subgraph's IF (its tensors too), calling `attrs`."""
    main, graph = model.graphs[0], model.graphs[s]
    op = next(op for op in main.ops if op.type == "IF")
    for name in op.inputs + op.outputs:
        graph.tensors.setdefault(name, main.tensors[name])
    graph.ops.append(dataclasses.replace(op, attrs={**op.attrs, **attrs}))


def _set_main_if(model, **attrs) -> None:
    op = next(op for op in model.graphs[0].ops if op.type == "IF")
    op.attrs.update(attrs)


# The cond model: main (0) runs IF with else 1 (cond_false), then 2 (cond_true). Messages
# are formats of the subgraph names.
BROKEN_REFERENCES = {
    "negative": (lambda m: _set_main_if(m, then_subgraph_index=-1),
                 "subgraph 0 {0!r}, operator 2 (IF): its then_subgraph_index -1 names no "
                 "subgraph (the model has 3)"),
    "out_of_range": (lambda m: _set_main_if(m, else_subgraph_index=7),
                     "operator 2 (IF): its else_subgraph_index 7 names no subgraph (the model has 3)"),
    "entry_point": (lambda m: _set_main_if(m, then_subgraph_index=0),
                    "subgraph 0 {0!r}, operator 2 (IF): its then_subgraph_index 0 names the entry "
                    "point (subgraph 0)"),
    "missing_subgraph": (lambda m: m.graphs.pop(),
                         "its then_subgraph_index 2 names no subgraph (the model has 2)"),
    "no_other_subgraph": (lambda m: m.graphs.__delitem__(slice(1, None)),
                          "subgraph 0, operator 2 (IF): its then_subgraph_index 2 names no subgraph "
                          "(the model has 1)"),
    "calls_itself": (lambda m: _call_from(m, 1, then_subgraph_index=1, else_subgraph_index=2),
                     "subgraph 1 {1!r}, operator 2 (IF): its then_subgraph_index 1 calls "
                     "subgraph 1 {1!r} while it runs (a cycle of calls: 1 -> 1)"),
    "cycle": (lambda m: (_call_from(m, 1, then_subgraph_index=2, else_subgraph_index=2),
                         _call_from(m, 2, then_subgraph_index=1, else_subgraph_index=1)),
              # Found from main, whose IF calls 2 first (its then branch).
              "subgraph 1 {1!r}, operator 2 (IF): its then_subgraph_index 2 calls "
              "subgraph 2 {2!r} while it runs (a cycle of calls: 2 -> 1 -> 2)"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_REFERENCES))
def test_broken_subgraph_references_are_refused(files, case, tmp_path):
    break_it, message = BROKEN_REFERENCES[case]
    model = read_model(files["tf_cond"][0])
    names = model.subgraph_names  # TF numbers the branches: main, cond_false_N, cond_true_M
    assert [name.split("_")[:2] for name in names] == [["main"], ["cond", "false"], ["cond", "true"]]
    message = message.format(*names)
    break_it(model)
    data = model_bytes(model.graphs[0])
    with pytest.raises(InvalidModelError) as caught:
        read_model(data, "bad.tflite")
    assert caught.value.__cause__ is None
    assert str(caught.value).startswith("bad.tflite: ") and message in str(caught.value)
    assert "\n" not in str(caught.value)
    path = tmp_path / "bad.tflite"
    path.write_bytes(data)
    for command in ("inspect", "check"):
        assert_one_line_error(toco(command, str(path)), message)
