"""Reference interpreter speed: toco-py's numpy interpreter against LiteRT with its reference
kernels (OpResolverType.BUILTIN_REF) and with its default optimized kernels (1 thread), on
the same models and inputs, timed in this one process.

    .venv/bin/python -m benchmarks.interpreter_speed [--size 224] [--repeats 3]

numpy's matrix products use every core unless OPENBLAS_NUM_THREADS says otherwise; set it to
1 to compare one thread with one thread.

Writes benchmarks/interpreter_speed.md. Target: toco-py no slower than LiteRT's reference
kernels on the MobileNet/ResNet-class models (ratio toco-py / reference <= 1.0).
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


from ai_edge_litert.interpreter import Interpreter as LiteRT  # noqa: E402
from ai_edge_litert.interpreter import OpResolverType

from tests.support import networks  # noqa: E402
from toco_py import api  # noqa: E402
from toco_py.interpreter import Interpreter  # noqa: E402
from toco_py.tensor_io import random_inputs  # noqa: E402
from toco_py.tflite.reader import read_model  # noqa: E402

MODELS = ("MobileNet", "MobileNetV2", "ResNet50", "InceptionV3")


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def litert_runner(model: bytes, feeds_by_index: dict, resolver):
    interp = LiteRT(model_content=model, num_threads=1, experimental_op_resolver_type=resolver)
    interp.allocate_tensors()

    def run():
        for index, value in feeds_by_index.items():
            interp.set_tensor(index, value)
        interp.invoke()
    return run


def measure(name: str, size: int, repeats: int) -> tuple:
    net = networks.keras_application(name, size)
    model = api.convert_bytes(net.pb).model
    graph = read_model(model).main
    feeds = random_inputs(graph, 0)
    names = list(graph.tensors)
    by_index = {names.index(n): v for n, v in feeds.items()}
    ours = Interpreter(graph)
    t_ours = best_of(lambda: ours.run(feeds), repeats)
    t_ref = best_of(litert_runner(model, by_index, OpResolverType.BUILTIN_REF), max(1, repeats // 3))
    t_opt = best_of(litert_runner(model, by_index, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES), repeats)
    return name, size, t_ours, t_ref, t_opt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).with_name("interpreter_speed.md")))
    args = parser.parse_args()
    lines = ["| model | input | toco-py (s) | LiteRT reference (s) | LiteRT optimized (s) | "
             "toco-py / reference | toco-py / optimized |", "|---|---|---|---|---|---|---|"]
    for name in MODELS:
        size = 299 if name == "InceptionV3" and args.size == 224 else args.size
        name, size, t_ours, t_ref, t_opt = measure(name, size, args.repeats)
        mark = "" if t_ours <= t_ref else " ✗"
        lines.append(f"| {name} | {size}x{size} | {t_ours:.3f} | {t_ref:.3f} | {t_opt:.3f} | "
                     f"{t_ours / t_ref:.2f}{mark} | {t_ours / t_opt:.1f} |")
        print(lines[-1], flush=True)
    threads = os.environ.get("OPENBLAS_NUM_THREADS", f"all {os.cpu_count()} cores")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()[:2])
    lines += ["", f"numpy's BLAS threads: {threads} (LiteRT: 1 thread). Load average (1, 5 min) "
              f"when done: {load}."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
