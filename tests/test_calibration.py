"""Calibration data in every form users have, percentile ranges, and the int8 report."""
import numpy as np
import pytest
from PIL import Image

from tests.support import networks
from tests.support.cli import assert_one_line_error, toco
from toco_py import api
from toco_py.errors import TocoError
from toco_py.quantize.calibrate import RangeTracker, calibrate
from toco_py.quantize.calibration_data import calibration_samples
from toco_py.tensor_io import load_tflite


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    net = networks.trained_digits_cnn(epochs=3)
    (train_x, _), _ = networks.digits_data()
    pb = folder / "digits.pb"
    pb.write_bytes(net.pb)
    model = folder / "digits.tflite"
    api.convert(str(pb), str(model))
    return folder, pb, model, train_x[:20]


def test_npz_npy_and_npy_folder_give_the_same_samples(digits):
    folder, _, model, x = digits
    graph, _ = load_tflite(str(model))
    np.savez(folder / "a.npz", image=x)
    np.save(folder / "b.npy", x)
    (folder / "many").mkdir()
    for i, sample in enumerate(x):
        np.save(folder / "many" / f"{i:03d}.npy", sample[None])
    forms = [calibration_samples(graph, str(folder / name)) for name in ("a.npz", "b.npy", "many")]
    for samples in forms:
        assert len(samples) == 20
        np.testing.assert_array_equal(np.concatenate([s["image"] for s in samples]), x)
    assert len(calibration_samples(graph, str(folder / "a.npz"), limit=5)) == 5


def test_image_folder_is_resized_and_scaled(digits):
    folder, _, model, x = digits
    graph, _ = load_tflite(str(model))
    images = folder / "images"
    images.mkdir()
    for i, sample in enumerate(x[:4]):
        Image.fromarray(np.round(sample[..., 0] * 255).astype(np.uint8)).save(images / f"{i}.png")
    Image.fromarray(np.full((32, 40, 3), 51, np.uint8)).save(images / "z_big_rgb.jpg")
    samples = calibration_samples(graph, str(images), mean=0.0, std=255.0)
    assert len(samples) == 5
    for sample, want in zip(samples, x[:4]):
        assert sample["image"].shape == (1, 8, 8, 1)
        np.testing.assert_allclose(sample["image"][0], want, atol=0.5 / 255 + 1e-6)
    # A bigger colour image is resized and turned grey for the 8x8x1 input.
    assert samples[4]["image"].shape == (1, 8, 8, 1)
    np.testing.assert_allclose(samples[4]["image"], 0.2, atol=0.01)


@pytest.mark.parametrize("content,fragment", [
    ("nothing", "no such file or folder"),
    ("empty_dir", "holds no .npy files or images"),
    ("wrong_shape", "do not fit input 'image'"),
    ("other.txt", "use an .npz, an .npy"),
])
def test_bad_calibration_data(digits, content, fragment):
    folder, _, model, _ = digits
    graph, _ = load_tflite(str(model))
    path = folder / content
    if content == "empty_dir":
        path.mkdir(exist_ok=True)
    elif content == "wrong_shape":
        path = folder / "wrong.npy"
        np.save(path, np.zeros((3, 5, 5, 1), np.float32))
    elif content == "other.txt":
        path.write_text("x")
    with pytest.raises(TocoError, match=fragment):
        calibration_samples(graph, str(path))


def test_batched_input_takes_whole_batches_end_to_end(tmp_path):
    """An input of batch 4: 12 rows are 3 samples of 4; 10 rows are no whole number of them."""
    from toco_py.ir import Graph, Tensor

    graph = Graph()
    graph.tensors["x"] = Tensor("x", (4, 6))
    graph.inputs = ["x"]
    rows = np.arange(72, dtype=np.float32).reshape(12, 6)
    np.save(tmp_path / "rows.npy", rows)
    samples = calibration_samples(graph, str(tmp_path / "rows.npy"))
    assert [s["x"].shape for s in samples] == [(4, 6)] * 3
    np.testing.assert_array_equal(np.concatenate([s["x"] for s in samples]), rows)
    np.save(tmp_path / "ten.npy", rows[:10])
    with pytest.raises(TocoError, match="10 rows for input 'x' of shape \\[4, 6\\]: give whole samples"):
        calibration_samples(graph, str(tmp_path / "ten.npy"))


def test_percentile_ranges_ignore_outliers():
    tracker = RangeTracker(percentile=99.0)
    values = np.concatenate([np.linspace(-1, 1, 10000), [500.0]]).astype(np.float32)
    tracker.add("t", values)
    lo, hi = tracker.ranges()["t"]
    assert -1.0 <= lo < -0.9 and 0.9 < hi <= 1.0
    plain = RangeTracker(percentile=None)
    plain.add("t", values)
    assert plain.ranges()["t"] == (-1.0, 500.0)


def test_calibration_covers_every_float_tensor(digits):
    _, _, model, x = digits
    graph, _ = load_tflite(str(model))
    (ranges,) = calibrate(graph, [{"image": s[None]} for s in x])  # one subgraph
    floats = {n for op in graph.ops for n in op.outputs} | set(graph.inputs)
    assert floats <= set(ranges)
    assert ranges["image"][0] >= 0.0 and ranges["image"][1] <= 1.0


def test_quantize_command_and_int8_report(digits):
    folder, pb, model, x = digits
    np.savez(folder / "cal.npz", image=x)
    int8 = folder / "digits_int8.tflite"
    proc = toco("quantize", str(model), str(int8), "--quantize", "int8", "--calibration-data",
                str(folder / "cal.npz"), "--calibration-percentile", "99.9")
    assert proc.returncode == 0, proc.stderr
    assert "calibrated on 20 samples" in proc.stderr
    assert "calibrating" not in proc.stderr, "no progress bar when stderr is not a terminal"
    np.savez(folder / "one.npz", image=x[:1])
    proc = toco("validate", str(model), str(int8), "--per-tensor", "--inputs", str(folder / "one.npz"),
                "--atol", "0.05", "--rtol", "0.1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("per tensor"))
    header = lines[start + 1].split()
    assert header[:6] == ["tensor", "max", "abs", "err", "max", "rel"] and "SNR" in header and "cosine" in header
    rows = [line.split() for line in lines[start + 2:] if line.strip()]
    assert len(rows) >= 4
    assert all(float(r[4]) > 0.9 for r in rows), "every int8 tensor keeps the float tensor's direction"
    proc = toco("quantize", str(model), str(folder / "never.tflite"), "--quantize", "int8")
    assert_one_line_error(proc, "--calibration-data")
