"""The TF ops TensorFlow's converter rewrites towards TFLite builtins, read from its own source,
written to benchmarks/tf_converter_ops.txt (the op list of benchmarks/op_coverage.py).

    python scripts/tf_converter_ops.py --converter-src LITERT_GIT_DIR [--out PATH]

Sources, all read, none guessed:
- the TF->TFL converter's patterns, tflite/converter/transforms/ of a google-ai-edge/LiteRT
  git directory (where the converter's sources now live; the same files as TensorFlow's
  tensorflow/compiler/mlir/lite/transforms/, whose repository is too large to fetch here):
  every TF_XxxOp of the .td pattern files and every TF::XxxOp / DECL_CONVERT_OP(Xxx) of the
  .cc passes (legalize, prepare);
- the lowering of composite TF ops the prepare pass runs (TF::PopulateLoweringTFPatterns):
  the roots of the generated patterns of lower_tf.td, read from generated_lower_tf.inc as the
  installed TensorFlow wheel ships it (its exact version), and the hand-written C++ patterns
  of lower_tf.cc that function adds (LOWER_TF_CC below).
Every name is kept only if TensorFlow's op registry knows it, so the list holds GraphDef op
names (an MLIR-only name is reported, not listed).
"""
from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONVERTER_DIR = "tflite/converter/transforms"
CONVERTER_FILES = ("legalize_patterns.td", "legalize_tf.cc", "prepare_patterns.td", "prepare_tf.cc",
                   "optimize_patterns.td")
LOWER_TF_INC = "include/tensorflow/compiler/mlir/tensorflow/transforms/generated_lower_tf.inc"
# The classes PopulateLoweringTFPatterns adds in tensorflow/compiler/mlir/tensorflow/transforms/
# lower_tf.cc (tensorflow/tensorflow 0002a6d2e4f885b062bf271d911f4fe0cd53caf3), by the TF op
# each one rewrites (the op its RewritePattern is rooted at); the wheel ships no lower_tf.cc.
LOWER_TF_CC = ("AddN", "Expm1", "FakeQuantWithMinMaxVars", "DynamicStitch", "ParallelDynamicStitch",
               "InvertPermutation", "Lgamma", "Pack", "BatchToSpaceND", "SpaceToBatchND",
               "ResizeNearestNeighbor", "SparseMatMul", "_UnaryOpsComposition", "Roll")
# Pattern classes the passes name as TF::XxxOp whose root op is another (einsum.cc's pattern,
# which prepare_tf.cc adds, rewrites Einsum).
PATTERN_ROOTS = {"ConvertTFEinsum": "Einsum"}


def git_show(git_dir: str, path: str) -> str:
    return subprocess.run(["git", "-C", git_dir, "show", f"HEAD:{path}"], check=True,
                          capture_output=True, text=True).stdout


def names_in(path: str, text: str) -> set[str]:
    """TF op names a pattern file mentions: TF_XxxOp in TableGen, TF::XxxOp and
    DECL_CONVERT_OP(Xxx) in C++."""
    if path.endswith(".td"):
        return set(re.findall(r"\bTF_(\w+?)Op\b", text))
    return set(re.findall(r"\bTF::(\w+?)Op\b", text)) | set(re.findall(r"DECL_CONVERT_OP\((\w+)\)", text))


def lowered_roots(text: str) -> set[str]:
    """The ops the generated lower_tf patterns are rooted at."""
    return set(re.findall(r'RewritePattern\("tf\.(\w+)"', text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--converter-src", required=True, help="a google-ai-edge/LiteRT git directory")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "tf_converter_ops.txt"))
    args = parser.parse_args()

    import tensorflow as tf
    from tensorflow.python.framework import op_def_registry

    commit = subprocess.run(["git", "-C", args.converter_src, "rev-parse", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    found: dict[str, set[str]] = {}
    for name in CONVERTER_FILES:
        path = f"{CONVERTER_DIR}/{name}"
        for op in names_in(path, git_show(args.converter_src, path)):
            op = PATTERN_ROOTS.get(op, op)
            found.setdefault(op, set()).add(name)
    inc = Path(tf.__file__).parent / LOWER_TF_INC
    for op in lowered_roots(inc.read_text()):
        found.setdefault(op, set()).add("lower_tf.td")
    for op in LOWER_TF_CC:
        found.setdefault(op, set()).add("lower_tf.cc")
    known = sorted(op for op in found if op_def_registry.get(op) is not None)
    unknown = sorted(set(found) - set(known))
    header = [
        "# TF ops TensorFlow's converter rewrites towards TFLite builtins (scripts/tf_converter_ops.py).",
        f"# google-ai-edge/LiteRT {commit}: " + ", ".join(f"{CONVERTER_DIR}/{n}" for n in CONVERTER_FILES),
        f"# tensorflow {tf.__version__} wheel: {LOWER_TF_INC} (lower_tf.td's patterns)",
        "# tensorflow/tensorflow 0002a6d2e4f885b062bf271d911f4fe0cd53caf3: tensorflow/compiler/mlir/"
        "tensorflow/transforms/lower_tf.cc, PopulateLoweringTFPatterns",
        "# Names not in TensorFlow's op registry (MLIR-only), left out: " + " ".join(unknown),
        "# op<TAB>files naming it",
    ]
    lines = [f"{op}\t{','.join(sorted(found[op]))}" for op in known]
    Path(args.out).write_text("\n".join(header + lines) + "\n")
    print(f"{len(known)} ops written to {args.out} ({len(unknown)} MLIR-only names left out)")


if __name__ == "__main__":
    main()
