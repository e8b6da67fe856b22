"""Fingerprints of everything toco-py writes for the test networks, to show that a refactor
changes no output byte.

    python scripts/fingerprint_outputs.py DIR               # writes DIR/fingerprints.json
    python scripts/fingerprint_outputs.py DIR --compare OLD.json

The frozen graphs are built once into DIR/graphs/ (TensorFlow is only needed then), so a
later run on the same DIR converts the very same bytes. For each network it runs
`toco-py convert` float, int8 (calibrated on seeded samples), dynamic and float16, and
`toco-py codegen` on each .tflite it can lower, and records the sha256 of every file written.
--compare exits 1 naming every output that differs or is missing.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile

import numpy as np
from click.testing import CliRunner

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))  # this checkout's toco_py, not the installed one
MODES = {"float": [], "int8": ["--quantize", "int8"], "dynamic": ["--quantize", "dynamic"],
         "float16": ["--quantize", "float16"]}
CALIBRATION_SAMPLES = 8


def build_graphs(folder: str) -> None:
    """Each test network as NAME.pb with NAME.json (inputs, outputs) and NAME.npz (samples)."""
    from tests.support import networks  # builds with TensorFlow

    builders = dict(networks.SMALL_NETWORKS)
    builders["digits_cnn"] = networks.trained_digits_cnn
    for app in networks.KERAS_APPLICATIONS:
        builders[app] = lambda app=app: networks.keras_application(app)
    os.makedirs(folder, exist_ok=True)
    for name, build in builders.items():
        net = build()
        with open(os.path.join(folder, f"{name}.pb"), "wb") as f:
            f.write(net.pb)
        samples = [net.feeds(seed) for seed in range(CALIBRATION_SAMPLES)]
        np.savez(os.path.join(folder, f"{name}.npz"),
                 **{k: np.stack([s[k] for s in samples]) for k in net.inputs})
        with open(os.path.join(folder, f"{name}.json"), "w") as f:
            json.dump({"inputs": {k: list(v[0]) for k, v in net.inputs.items()},
                       "outputs": net.outputs}, f)


def _run(args: list[str]) -> tuple[int, str]:
    from toco_py.cli import cli

    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output.strip().splitlines()[-1] if result.output.strip() else ""


def _digest_tree(path: str) -> dict[str, str]:
    out = {}
    for root, _, files in os.walk(path):
        for f in sorted(files):
            full = os.path.join(root, f)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, path)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def fingerprints(graphs: str) -> dict[str, str]:
    found: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as work:
        for pb in sorted(f for f in os.listdir(graphs) if f.endswith(".pb")):
            name = pb[:-3]
            with open(os.path.join(graphs, f"{name}.json")) as f:
                spec = json.load(f)
            cut = ["--input_arrays", ",".join(spec["inputs"]),
                   "--output_arrays", ",".join(spec["outputs"]),
                   "--input_shapes", ":".join(",".join(map(str, s)) for s in spec["inputs"].values())]
            for mode, flags in MODES.items():
                out = os.path.join(work, f"{name}.{mode}.tflite")
                if mode == "int8":
                    flags = flags + ["--calibration-data", os.path.join(graphs, f"{name}.npz")]
                code, last = _run(["convert", "--graph_def_file", os.path.join(graphs, pb),
                                   "-o", out, *cut, *flags])
                key = f"{name}/{mode}"
                if code != 0:
                    found[key] = f"exit {code}: {last}"
                    continue
                with open(out, "rb") as f:
                    found[key + ".tflite"] = hashlib.sha256(f.read()).hexdigest()
                bundle = os.path.join(work, f"{name}_{mode}_c")
                code, last = _run(["codegen", out, "-o", bundle])
                if code != 0:
                    found[key + "/codegen"] = f"exit {code}: {last}"
                    continue
                for rel, digest in _digest_tree(bundle).items():
                    found[f"{key}/codegen/{rel}"] = digest
            print(f"{name}: done", file=sys.stderr)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir")
    parser.add_argument("--compare", metavar="OLD.json")
    args = parser.parse_args()
    graphs = os.path.join(args.dir, "graphs")
    if not os.path.isdir(graphs):
        build_graphs(graphs)
    found = fingerprints(graphs)
    with open(os.path.join(args.dir, "fingerprints.json"), "w") as f:
        json.dump(found, f, indent=1, sort_keys=True)
    print(f"{len(found)} outputs fingerprinted into {args.dir}/fingerprints.json")
    if not args.compare:
        return 0
    with open(args.compare) as f:
        old = json.load(f)
    differ = sorted(k for k in old.keys() | found.keys() if old.get(k) != found.get(k))
    for key in differ:
        print(f"differs: {key}: {old.get(key, 'missing')} -> {found.get(key, 'missing')}")
    print(f"{len(differ)} of {len(old)} outputs differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
