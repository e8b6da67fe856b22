"""examples/: the Makefile behind `make demo` and the CI script, run as a user runs them."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from toco_py.tflite.reader import read_graph

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    # ci.sh finds python3 and toco-py on PATH, as in a CI job with the venv activated.
    path = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    return {**os.environ, "PATH": path, "TOCO": str(BIN / "toco-py")}


def test_examples_makefile_converts_validates_inspects_and_bundles(tmp_path):
    proc = subprocess.run(["make", "-C", str(EXAMPLES), "all", f"BUILD={tmp_path}",
                           f"TOCO={BIN / 'toco-py'}"], capture_output=True, text=True,
                          env=_env(), timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in ("digits_cnn", "digits_mlp", "digits_cnn_int8", "digits_mlp_int8"):
        assert read_graph(str(tmp_path / f"{name}.tflite")).ops
    int8_model = read_graph(str(tmp_path / "digits_cnn_int8.tflite"))
    assert "int8" in {t.dtype for t in int8_model.tensors.values()}
    assert (tmp_path / "digits_cnn_int8.dot").read_text().startswith("digraph")
    bundle = tmp_path / "digits_cnn_int8_c"
    assert (bundle / "digits.h").exists() and os.access(bundle / "digits_run", os.X_OK)
    # The verify table's row for the one output: bit-exact with the reference interpreter.
    row = next(line for line in proc.stdout.splitlines() if line.startswith("probs"))
    assert row.split()[-1] == "pass"


def test_ci_script_converts_every_model(tmp_path):
    proc = subprocess.run([str(EXAMPLES / "ci.sh")], capture_output=True, text=True,
                          env={**_env(), "OUT": str(tmp_path)}, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    graphs = sorted(p.stem for p in (EXAMPLES / "models").glob("*.pb"))
    assert f"ci: {len(graphs)} models converted and validated" in proc.stdout
    for name in graphs:
        assert (tmp_path / f"{name}_int8.tflite").stat().st_size > 0


@pytest.mark.parametrize("damage", ["truncated", "empty folder"])
def test_ci_script_fails_the_job_on_a_bad_model(tmp_path, damage):
    models = tmp_path / "models"
    models.mkdir()
    if damage == "truncated":
        data = (EXAMPLES / "models" / "digits_mlp.pb").read_bytes()
        (models / "broken.pb").write_bytes(data[: len(data) // 3])
    given = {p.name: p.read_bytes() for p in models.iterdir()}
    out = tmp_path / "out"
    proc = subprocess.run([str(EXAMPLES / "ci.sh"), str(models)], capture_output=True, text=True,
                          env={**_env(), "OUT": str(out)}, timeout=300)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert not list(out.glob("*.tflite"))
    assert {p.name: p.read_bytes() for p in models.iterdir()} == given
