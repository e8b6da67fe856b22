"""The streaming keyword spotter's C bundle (tests/support/streaming_models.py: a
microWakeWord-style conv stack whose ring buffers are resource variables, as TF's converter
writes them with a CALL_ONCE initializer) against TensorFlow Lite Micro, float and int8:

- memory: the bundle's arena plus its state buffer (every byte of RAM the bundle uses for
  data) vs TFLM's arena total (RecordingMicroAllocator: the planned tensors, "head", plus the
  persistent "tail": the resource variables and TFLM's per-tensor and per-node bookkeeping,
  which is what a TFLM user must reserve), with TFLM's head shown on its own;
- agreement over STEPS invokes in one process: the bundle's outputs against TFLM's, step by
  step (int8: bit for bit; float: the largest difference), the state carried on in both.

    .venv/bin/python -m benchmarks.codegen_state

Writes benchmarks/codegen_state.md.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from benchmarks.codegen import tflm_allocations  # noqa: E402
from tests.support import streaming_models  # noqa: E402
from toco_py.codegen.bundle import generate_bundle  # noqa: E402
from toco_py.codegen.verify import build, run_bundle_steps  # noqa: E402
from toco_py.tflite.reader import read_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STEPS = 20


def _feeds(graph) -> list[dict[str, np.ndarray]]:
    (name,) = graph.inputs
    t = graph.tensors[name]
    frames = streaming_models.frames(STEPS, seed=2)
    if t.dtype != "int8":
        return [{name: frame} for frame in frames]
    scale, zero = float(t.quant.scale[0]), int(t.quant.zero_point[0])
    return [{name: np.clip(np.round(f / scale) + zero, -128, 127).astype(np.int8)} for f in frames]


def tflm_outputs(model: bytes, steps: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model)
    outputs = []
    for feeds in steps:
        (value,) = feeds.values()
        interp.set_input(value, 0)
        interp.invoke()
        outputs.append(np.array(interp.get_output(0)))
    return outputs


def measure(label: str, model: bytes) -> str:
    graph = read_model(model).main
    steps = _feeds(graph)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = generate_bundle(graph, f"{tmp}/b", "spotter")
        ours = run_bundle_steps(build(f"{tmp}/b", "spotter"), graph, steps)
    micro = tflm_allocations(model)
    theirs = tflm_outputs(model, steps)
    diff = max(float(np.max(np.abs(o[graph.outputs[0]].astype(np.float64) - t.astype(np.float64))))
               for o, t in zip(ours, theirs))
    agreement = ("bit for bit" if diff == 0 else f"max |diff| {diff:.3g}")
    arena, state = bundle.plan.arena_size, bundle.state_size
    return (f"| {label} | {arena} | {state} | {arena + state} | {micro['total']} | {micro['head']} | "
            f"{(arena + state) / micro['total']:.1%} | {agreement} |")


def main() -> None:
    rows = ["| spotter | bundle arena B | bundle state B | bundle RAM B | TFLM arena total B | "
            "TFLM head B | bundle / TFLM | outputs vs TFLM over "
            f"{STEPS} steps |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for label, make in (("float", streaming_models.float_model), ("int8", streaming_models.int8_model)):
        rows.append(measure(label, make()))
        print(rows[-1], flush=True)
    text = "\n".join([
        "# C bundle of the streaming spotter vs TFLM", "",
        "The microWakeWord-style spotter of tests/support/streaming_models.py (two streamed",
        "convolutions whose ring buffers are resource variables, a CALL_ONCE initializer),",
        "converted by TF's converter. Bundle RAM: the arena plus the state buffer (the",
        "variables; besides them the bundle keeps one byte per subgraph, the CALL_ONCE flags);",
        "TFLM: its arena total (planned tensors, \"head\", plus the persistent tail holding",
        "the variables and TFLM's tensor and node structs). Both plan the activations into the",
        "same number of bytes (bundle arena = TFLM head); the difference is TFLM's bookkeeping.", "",
        *rows, "",
        "Reproduce: `.venv/bin/python -m benchmarks.codegen_state` (writes this file).", ""])
    (ROOT / "benchmarks" / "codegen_state.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
