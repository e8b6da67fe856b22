"""A large synthetic graph (big constants viewed in the mapped file, weights dropped as they
are written) converts correctly; the 1.5 GB run and its memory figures are in
benchmarks/scale.py."""
import numpy as np

from tests.support.cli import toco
from tests.support.oracle import litert
from tests.support.synthetic import numpy_reference, write_dense_stack
from toco_py.frontend.graphdef import VIEW_THRESHOLD, load_graphdef


def test_big_constants_are_views_of_the_file(tmp_path):
    pb = tmp_path / "dense.pb"
    write_dense_stack(str(pb), 512, 2)
    loaded = load_graphdef(str(pb))
    kernel = loaded.constants["dense0/kernel"]
    assert kernel.shape == (512, 512) and not kernel.flags.owndata and not kernel.flags.writeable
    assert kernel.nbytes >= VIEW_THRESHOLD
    node = next(n for n in loaded.node if n.name == "dense0/kernel")
    assert "value" not in node.attr  # the payload was left in the file, not copied


def test_large_dense_stack_converts_and_matches(tmp_path):
    width, layers = 1536, 4  # ~36 MB of weights
    pb = tmp_path / "dense.pb"
    write_dense_stack(str(pb), width, layers)
    out = tmp_path / "dense.tflite"
    proc = toco("convert", "--graph_def_file", str(pb), "--output_file", str(out), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0.99 * pb.stat().st_size
    x = np.random.default_rng(0).standard_normal((1, width)).astype(np.float32)
    interp = litert(out.read_bytes(), delegates=False)
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    got = interp.get_tensor(interp.get_output_details()[0]["index"])
    want = numpy_reference(x, width, layers)
    assert np.max(np.abs(got - want)) <= 1e-5 * np.max(np.abs(want))
