"""The written .tflite: byte-identical across runs, schema-3 layout facts, no TensorFlow
imported by `toco-py convert`."""
import subprocess
import sys

import numpy as np
import tflite

from tests.support import models
from tests.support.cli import toco
from tests.support.oracle import freeze


def _convert(tmp_path, name):
    pb = tmp_path / "cnn.pb"
    if not pb.exists():
        pb.write_bytes(freeze(models.small_cnn)[0])
    out = tmp_path / name
    proc = toco("convert", "--graph_def_file", str(pb), "--output_file", str(out))
    assert proc.returncode == 0, proc.stderr
    return out.read_bytes()


def test_two_conversions_are_byte_identical(tmp_path):
    assert _convert(tmp_path, "a.tflite") == _convert(tmp_path, "b.tflite")


def test_schema_layout(tmp_path):
    data = _convert(tmp_path, "m.tflite")
    assert data[4:8] == b"TFL3"
    model = tflite.Model.GetRootAs(data, 0)
    assert model.Version() == 3
    assert model.Buffers(0).DataLength() == 0, "buffer 0 must be empty"
    base = np.frombuffer(data, np.uint8).ctypes.data
    for i in range(1, model.BuffersLength()):
        buf = model.Buffers(i)
        if buf.DataLength():
            offset = buf.DataAsNumpy().ctypes.data - base
            assert offset % 16 == 0, f"buffer {i} at offset {offset} is not 16-byte aligned"
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        assert code.BuiltinCode() > 0 or code.DeprecatedBuiltinCode() == 0
        assert code.DeprecatedBuiltinCode() == min(code.BuiltinCode(), 127)
    sub = model.Subgraphs(0)
    names = {sub.Tensors(i).Name().decode() for i in range(sub.TensorsLength())}
    assert {"image", "scores"} <= names
    sig = model.SignatureDefs(0)
    assert sig.SignatureKey() == b"serving_default"
    assert sig.Inputs(0).Name() == b"image" and sig.Outputs(0).Name() == b"scores"


def test_convert_does_not_import_tensorflow(tmp_path):
    pb = tmp_path / "mlp.pb"
    pb.write_bytes(freeze(models.mlp)[0])
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "toco_py", "convert",
         "--graph_def_file", str(pb), "--output_file", str(tmp_path / "m.tflite")],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    imported = {line.split("|")[-1].strip().split(".")[0]
                for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "numpy" in imported and "toco_py" in imported  # the probe sees imports at all
    assert not imported & {"tensorflow", "ai_edge_litert", "keras", "tf_keras", "jax", "torch"}
