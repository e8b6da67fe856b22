"""`toco-py inspect` on .pb and .tflite (ours, TensorFlow's converter's, int8), and the
Graphviz pictures of inspect --graphviz and convert --dump_graphviz_dir."""
import json
import os
import re
import stat
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from tests.support import cf_models, models, networks
from tests.support.cli import assert_one_line_error, toco
from tests.support.irgraph import build
from tests.support.oracle import freeze, tf_convert
from toco_py import api
from toco_py.frontend.graphdef import parse_graphdef
from toco_py.graphviz import graph_to_dot
from toco_py.quantize.driver import QuantizeOptions
from toco_py.tflite.reader import read_model

SUMMARY_KEYS = {"file", "format", "subgraphs", "inputs", "outputs", "op_count", "ops",
                "parameters", "quantization"}
TENSOR_KEYS = {"name", "kind", "shape", "dtype", "bytes", "quantization"}
BOX_CHARS = ("┃", "│", "━", "─")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inspect")
    pb = folder / "cnn.pb"
    pb.write_bytes(freeze(models.small_cnn)[0])
    ours = folder / "ours.tflite"
    ours.write_bytes(api.convert(str(pb)).model)
    theirs = folder / "tf.tflite"
    theirs.write_bytes(tf_convert(str(pb), ["image"], ["scores"]))
    calibration = folder / "cal.npz"
    np.savez(calibration, image=np.random.default_rng(0).standard_normal((8, 20, 20, 3)).astype(np.float32))
    int8 = folder / "int8.tflite"
    int8.write_bytes(api.convert(str(pb), quantize=QuantizeOptions(
        "int8", calibration_data=str(calibration))).model)
    dropout = folder / "dropout.pb"
    dropout.write_bytes(networks.dropout_mlp().pb)
    erf = folder / "erf.pb"
    erf.write_bytes(freeze(_erf_graph)[0])
    return {"pb": pb, "ours": ours, "tf": theirs, "int8": int8, "dropout": dropout, "erf": erf}


def _erf_graph():
    x = tf.compat.v1.placeholder(tf.float32, [1, 8], name="x")
    return {"out": tf.identity(tf.math.erf(x, name="erf") * 2.0, name="out")}


def inspect_json(path, *flags):
    proc = toco("inspect", str(path), "--json", *flags)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert set(summary) >= SUMMARY_KEYS
    return summary


def assert_matches_graph(summary, graph):
    """The counts are what the reader (or the frontend) says the graph holds."""
    consts = [t for t in graph.tensors.values() if t.is_const]
    assert summary["parameters"]["count"] == sum(int(t.data.size) for t in consts)
    assert summary["parameters"]["bytes"] == sum(int(t.data.nbytes) for t in consts)
    assert summary["parameters"]["tensors"] == len(consts)
    assert summary["op_count"] == len(graph.ops)
    kinds = Counter(op.attrs["custom_code"] if op.type == "CUSTOM" else op.type for op in graph.ops)
    assert summary["ops"] == dict(kinds)
    assert [t["name"] for t in summary["inputs"]] == graph.inputs
    assert [t["name"] for t in summary["outputs"]] == graph.outputs
    for t in summary["inputs"] + summary["outputs"]:
        assert t["shape"] == list(graph.tensors[t["name"]].shape)
        assert t["dtype"] == graph.tensors[t["name"]].dtype
    quantized = [n for n, t in graph.tensors.items() if t.quant is not None]
    assert [t["name"] for t in summary["quantization"]["tensors"]] == quantized
    assert summary["quantization"]["quantized_tensors"] == len(quantized)


@pytest.mark.parametrize("which", ["ours", "tf"])
def test_float_tflite(files, which):
    summary = inspect_json(files[which])
    assert summary["format"] == "tflite" and summary["subgraphs"] == 1
    assert_matches_graph(summary, read_model(files[which].read_bytes()).main)
    assert summary["inputs"][0]["shape"] == [1, 20, 20, 3]
    assert summary["ops"]["CONV_2D"] == 2 and summary["ops"]["DEPTHWISE_CONV_2D"] == 1
    assert summary["quantization"]["quantized_tensors"] == 0


def test_int8_tflite_quantization_summary(files):
    summary = inspect_json(files["int8"], "--tensors")
    graph = read_model(files["int8"].read_bytes()).main
    assert_matches_graph(summary, graph)
    q = summary["quantization"]
    assert q["per_channel"] == sum(1 for t in graph.tensors.values() if t.quant is not None and t.quant.per_channel)
    assert q["per_channel"] >= 2 and q["per_tensor"] > 0  # conv weights; activations
    assert q["per_channel"] + q["per_tensor"] == q["quantized_tensors"]
    assert {"int8", "int32"} <= set(q["dtypes"])  # weights and activations; biases
    conv = next(op for op in graph.ops if op.type == "CONV_2D")
    tensors = {t["name"]: t for t in summary["tensors"]}
    assert set(tensors) == set(graph.tensors)
    assert all(set(t) == TENSOR_KEYS for t in tensors.values())
    weight = tensors[conv.inputs[1]]
    assert weight["kind"] == "constant" and weight["dtype"] == "int8"
    assert weight["quantization"]["scheme"] == "per-channel"
    assert weight["quantization"]["channels"] == weight["shape"][0] == 8
    assert weight["bytes"] == int(np.prod(weight["shape"]))
    activation = tensors[conv.outputs[0]]
    assert activation["kind"] == "activation" and activation["quantization"]["scheme"] == "per-tensor"
    assert isinstance(activation["quantization"]["scale"], float)
    assert summary["inputs"][0]["dtype"] == "float32"  # QUANTIZE at the boundary by default

    proc = toco("inspect", str(files["int8"]), "--tensors")
    assert proc.returncode == 0, proc.stderr
    assert "per-channel axis 0 (8 scales)" in proc.stdout
    assert conv.inputs[1] in proc.stdout


def test_graphdef(files):
    summary = inspect_json(files["pb"], "--tensors")
    assert summary["format"] == "graphdef"
    assert_matches_graph(summary, api.load_graphdef_as_ir(str(files["pb"])))
    nodes = parse_graphdef(files["pb"].read_bytes()).node
    assert summary["graphdef_ops"] == dict(Counter(n.op for n in nodes))
    assert summary["graphdef_ops"]["Conv2D"] == 2 and summary["graphdef_ops"]["Placeholder"] == 1
    assert summary["inputs"] == [{"name": "image", "kind": "input", "shape": [1, 20, 20, 3],
                                  "dtype": "float32", "bytes": 4800, "quantization": None}]


def test_plain_tables_when_piped(files):
    proc = toco("inspect", str(files["ours"]))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert not any(c in out for c in BOX_CHARS)
    for title in ("inputs and outputs", "ops", "parameters (constants)", "quantization: none"):
        assert title in out
    assert re.search(r"^input\s+image\s+\[1, 20, 20, 3\]\s+float32$", out, re.M), out
    params = inspect_json(files["ours"])["parameters"]
    assert re.search(rf"^total\s+{params['tensors']}\s+{params['count']}\s+{params['bytes']}$", out, re.M)


def test_bad_files_are_one_line_errors(tmp_path):
    assert_one_line_error(toco("inspect", str(tmp_path / "nope.tflite")), "no such file")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\0\0\0\0TFL3garbage")
    assert_one_line_error(toco("inspect", str(bad)), "bad.tflite")
    assert_one_line_error(toco("inspect", str(tmp_path)), "not a file")


# ---- pictures ------------------------------------------------------------------------------

DOT_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def assert_well_formed(dot: str) -> None:
    """Every quoted string closes on its line and nothing outside them is a quote."""
    assert dot.startswith("digraph model {\n") and dot.endswith("}\n")
    for line in dot.splitlines():
        assert '"' not in DOT_STRING.sub("", line), line


def test_dot_escapes_names_and_is_deterministic():
    nasty = 'a "quoted"\\name\nwith newline {x}|<y>'
    graph = build({nasty: (1, 4)}, {"c": np.ones(4, np.float32)},
                  [("ADD", [nasty, "c"], ["sum"]), ("RELU", ["sum"], [nasty + "_out"])], [nasty + "_out"])
    dot = graph_to_dot(graph, title='the "title"')
    assert_well_formed(dot)
    assert dot == graph_to_dot(graph, title='the "title"')
    assert '\\"quoted\\"\\\\name\\nwith newline' in dot
    assert dot.count(" -> ") == 3  # input -> ADD -> RELU -> output
    assert 'label="1x4"' in dot and "const 4" in dot


def test_inspect_graphviz_dot(files, tmp_path):
    out = tmp_path / "m.dot"
    proc = toco("inspect", str(files["ours"]), "--graphviz", str(out))
    assert proc.returncode == 0, proc.stderr
    dot = out.read_text()
    assert_well_formed(dot)
    graph = read_model(files["ours"].read_bytes()).main
    assert len(re.findall(r"^  op\d+ \[", dot, re.M)) == len(graph.ops)
    assert 'label="1x20x20x3"' in dot and "CONV_2D" in dot
    again = tmp_path / "again.dot"
    toco("inspect", str(files["ours"]), "--graphviz", str(again))
    assert again.read_bytes() == out.read_bytes()
    # A .pb is drawn as imported: its TF-only ops are still there.
    proc = toco("inspect", str(files["dropout"]), "--graphviz", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "CheckNumerics" in out.read_text() and "RandomUniform" in out.read_text()


def _fake_dot(folder, script: str):
    folder.mkdir()
    dot = folder / "dot"
    dot.write_text("#!/bin/sh\n" + script)
    dot.chmod(dot.stat().st_mode | stat.S_IEXEC)
    return folder


def test_rendering_without_graphviz_is_one_line_error(files, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    out = tmp_path / "m.svg"
    assert_one_line_error(toco("inspect", str(files["ours"]), "--graphviz", str(out)),
                          "needs Graphviz's `dot`", "not on PATH")
    assert not out.exists()


def test_rendering_with_graphviz(files, tmp_path, monkeypatch):
    # The fake writes what it was asked for and what it read, so the test sees both.
    bin_dir = _fake_dot(tmp_path / "bin", 'echo "format $1"; cat\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for ext in ("svg", "png"):
        out = tmp_path / f"m.{ext}"
        proc = toco("inspect", str(files["ours"]), "--graphviz", str(out))
        assert proc.returncode == 0, proc.stderr
        text = out.read_text()
        assert text.startswith(f"format -T{ext}\ndigraph model {{")


def test_failing_graphviz_is_one_line_error(files, tmp_path, monkeypatch):
    bin_dir = _fake_dot(tmp_path / "bin", 'echo "Error: syntax error in line 1" >&2; exit 1\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "m.png"
    assert_one_line_error(toco("inspect", str(files["ours"]), "--graphviz", str(out)),
                          "dot failed to render", "syntax error")
    assert not out.exists()
    assert_one_line_error(toco("inspect", str(files["ours"]), "--graphviz", str(tmp_path / "m.txt")),
                          ".dot, .svg, .png or .pdf")


def test_convert_dump_graphviz_dir(files, tmp_path):
    dump = tmp_path / "dots"
    out = tmp_path / "m.tflite"
    proc = toco("convert", "--graph_def_file", str(files["dropout"]), "-o", str(out),
                "--dump_graphviz_dir", str(dump))
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(dump)) == ["after.dot", "before.dot"]
    before, after = (dump / "before.dot").read_text(), (dump / "after.dot").read_text()
    for dot in (before, after):
        assert_well_formed(dot)
    assert "CheckNumerics" in before and "RandomUniform" in before
    assert "CheckNumerics" not in after and "RandomUniform" not in after
    written = read_model(out.read_bytes()).main
    assert len(re.findall(r"^  op\d+ \[", after, re.M)) == len(written.ops)
    assert "const 64x32" in after  # the weights' shapes survive (they are not released)
    # The picture of the imported graph is there even when the conversion then fails.
    failed = tmp_path / "failed"
    proc = toco("convert", "--graph_def_file", str(files["erf"]), "-o", str(tmp_path / "erf.tflite"),
                "--dump_graphviz_dir", str(failed))
    assert proc.returncode == 2 and proc.stderr.splitlines()[-1].startswith("error: unsupported")
    assert os.listdir(failed) == ["before.dot"]
    assert "Erf" in (failed / "before.dot").read_text()


@pytest.fixture(scope="module")
def cf_files(tmp_path_factory):
    """TF's converter's models of several subgraphs: IF, WHILE, a resource variable."""
    return cf_models.write_models(tmp_path_factory.mktemp("inspect_cf"))


@pytest.mark.parametrize("name", ["cond", "while", "state"])
def test_every_subgraph_is_described(cf_files, name):
    summary = inspect_json(cf_files[name])
    model = read_model(cf_files[name].read_bytes())
    assert summary["subgraphs"] == len(model.graphs) > 1
    assert_matches_graph(summary, model.main)  # the top level is still the main subgraph
    details = summary["subgraph_details"]
    assert [d["index"] for d in details] == list(range(len(model.graphs)))
    assert [d["name"] for d in details] == model.subgraph_names
    for detail, graph in zip(details, model.graphs):
        assert detail["op_count"] == len(graph.ops)
        assert detail["ops"] == dict(Counter(op.type for op in graph.ops))
        assert [t["name"] for t in detail["inputs"]] == graph.inputs
        assert [t["name"] for t in detail["outputs"]] == graph.outputs
        assert detail["parameters"] == sum(int(t.data.size) for t in graph.tensors.values() if t.is_const)
    calls = {(d["index"], c["op"], c["attr"], c["subgraph"]) for d in details for c in d["calls"]}
    called_by = {(c["subgraph"], c["op"], c["attr"], d["index"]) for d in details for c in d["called_by"]}
    assert calls == called_by
    main_op = {"cond": "IF", "while": "WHILE", "state": "CALL_ONCE"}[name]
    expected = {(0, main_op, attr, model.main.ops[j].attrs[attr])
                for j, op in enumerate(model.main.ops) if op.type == main_op
                for attr in op.attrs if attr.endswith("_subgraph_index")}
    assert calls == expected and len(expected) == len(model.graphs) - 1

    proc = toco("inspect", str(cf_files[name]))
    assert proc.returncode == 0, proc.stderr
    assert f"{len(model.graphs)} subgraphs (main detailed below)" in proc.stdout
    rows = proc.stdout.split("\nsubgraphs\n")[1].split("\n\n")[0].splitlines()[1:]
    assert [row.split()[:2] for row in rows] == [[str(i), n] for i, n in enumerate(model.subgraph_names)]
    for index, callee in enumerate(model.subgraph_names[1:], 1):
        assert f"-> {index} {callee}" in rows[0] and "from 0 main" in rows[index]


def test_one_subgraph_has_no_subgraph_details(files):
    for which in ("ours", "tf", "pb"):
        summary = inspect_json(files[which])
        assert summary["subgraphs"] == 1 and "subgraph_details" not in summary
        assert "subgraphs" not in toco("inspect", str(files[which])).stdout


def test_dot_draws_every_subgraph():
    """A WHILE model: the cond and body each in a box of their own, named by the WHILE's label,
    every op of every subgraph a node."""
    from toco_py.tflite.reader import read_graph

    graph = read_graph(cf_models.while_model())
    dot = graph_to_dot(graph)
    assert_well_formed(dot)
    assert "cluster_1" in dot and "cluster_2" in dot and "cluster_3" not in dot
    assert "cond: subgraph 1, body: subgraph 2" in dot
    assert dot.count("shape=box") == sum(len(sub.ops) for sub in graph.subgraphs)
