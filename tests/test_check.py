"""`toco-py check`: unsupported ops per target, after the passes, with hints and exit codes."""
import json

import numpy as np
import pytest
import tensorflow as tf

from tests.support import cf_models, models, networks
from tests.support.cli import assert_one_line_error, toco
from tests.support.oracle import freeze
from toco_py import api
from toco_py.frontend.graphdef import parse_graphdef
from toco_py.targets import TARGETS, TFLM_VERSION

v1 = tf.compat.v1
REPORT_KEYS = {"model", "target", "supported", "op_count", "unsupported", "notes"}
FINDING_KEYS = {"op", "count", "nodes", "hint", "control_flow"}




def _cond_graph():
    """A tf.cond on a placeholder: its predicate is unknown at conversion time."""
    x = v1.placeholder(tf.float32, [1, 8], name="x")
    flag = v1.placeholder(tf.bool, [], name="flag")
    y = tf.cond(flag, lambda: tf.nn.relu(x), lambda: tf.nn.tanh(x), name="branch")
    return {"out": tf.identity(y, name="out")}


def _while_graph():
    x = v1.placeholder(tf.float32, [2, 3], name="x")
    n = v1.placeholder(tf.int32, [], name="n")
    _, y = tf.while_loop(lambda i, v: i < n, lambda i, v: (i + 1, v * 1.5 + 1.0), [tf.constant(0), x],
                         name="loop")
    return {"out": tf.identity(y, name="out")}


def _builtins_not_in_tflm():
    """SIGN and REDUCE_PROD are TFLite builtins that TFLM has no kernel for."""
    x = v1.placeholder(tf.float32, [1, 8], name="x")
    s = tf.math.sign(x, name="sgn")
    p = tf.reduce_prod(tf.abs(x) + 1.0, axis=1, keepdims=True, name="prod")
    return {"out": tf.identity(s * p, name="out")}


def _freeze_v1_control_flow(build) -> bytes:
    v1.disable_control_flow_v2()  # Switch/Merge, as frozen TF1 graphs have them
    try:
        return freeze(build)[0]
    finally:
        v1.enable_control_flow_v2()


@pytest.fixture(scope="module")
def pbs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("check")
    graphs = {
        "unsupported": freeze(models.unsupported_ops_graph)[0],
        "cond": _freeze_v1_control_flow(_cond_graph),
        "while": _freeze_v1_control_flow(_while_graph),
        "not_tflm": freeze(_builtins_not_in_tflm)[0],
        "dropout": networks.dropout_mlp().pb,
        "cnn": freeze(models.small_cnn)[0],
    }
    paths = {}
    for name, pb in graphs.items():
        paths[name] = folder / f"{name}.pb"
        paths[name].write_bytes(pb)
    return paths


def check_json(*args):
    proc = toco("check", *map(str, args), "--json")
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    assert set(report) >= REPORT_KEYS
    assert report["supported"] == (proc.returncode == 0) == (not report["unsupported"])
    for finding in report["unsupported"]:
        assert set(finding) == FINDING_KEYS
        assert finding["count"] == len(finding["nodes"]) > 0 and finding["hint"]
    return report


def findings(report) -> dict:
    return {f["op"]: f for f in report["unsupported"]}


def test_unsupported_ops_listed_with_nodes_and_hints(pbs):
    proc = toco("check", str(pbs["unsupported"]))
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    for fragment in ("Erf", "erf_a, erf_b", "Cumprod", "running", "Digamma", "dg",
                     "--allow_custom_ops", "tf.nn.gelu"):
        assert fragment in out, (fragment, out)
    assert "┃" not in out and "│" not in out  # plain text when piped
    report = check_json(pbs["unsupported"])
    found = findings(report)
    assert {op: f["nodes"] for op, f in found.items()} == {
        "Erf": ["erf_a", "erf_b"], "Cumprod": ["running"], "Digamma": ["dg"]}
    assert not any(f["control_flow"] for f in found.values())
    # The same verdict as convert's, which runs the same passes and then refuses these ops.
    graph, _, _ = api.graph_from_graphdef(parse_graphdef(pbs["unsupported"].read_bytes()))
    assert api.unsupported_ops(graph) == {op: f["nodes"] for op, f in found.items()}
    assert report["op_count"] == len(graph.ops)


def test_ops_the_passes_remove_are_not_reported(pbs):
    """dropout_mlp has RandomUniform (dropout behind a keep_prob defaulting to 1),
    CheckNumerics, StopGradient and PlaceholderWithDefault: all gone after the passes."""
    tf_ops = {n.op for n in parse_graphdef(pbs["dropout"].read_bytes()).node}
    assert {"RandomUniform", "CheckNumerics", "PlaceholderWithDefault"} <= tf_ops
    for target in TARGETS:
        report = check_json(pbs["dropout"], "--target", target)
        assert report["supported"], report
    proc = toco("check", str(pbs["dropout"]))
    assert proc.returncode == 0, proc.stderr
    assert "all 4 ops are supported on tflite" in proc.stdout


def test_non_constant_cond_becomes_if(pbs):
    """cond_to_if makes it an IF with two subgraphs, which TFLite runs."""
    report = check_json(pbs["cond"])
    assert report["supported"], report
    graph, _, _ = api.graph_from_graphdef(parse_graphdef(pbs["cond"].read_bytes()))
    assert [op.type for op in graph.ops] == ["IF"] and len(graph.subgraphs) == 3


def test_tf1_while_loop_becomes_while(pbs):
    """Its frame becomes a WHILE with cond and body subgraphs, which TFLite runs."""
    report = check_json(pbs["while"])
    assert report["supported"], report
    graph, _, _ = api.graph_from_graphdef(parse_graphdef(pbs["while"].read_bytes()))
    assert [op.type for op in graph.ops] == ["WHILE"] and len(graph.subgraphs) == 3


def test_tflite_micro_target(pbs):
    assert check_json(pbs["not_tflm"])["supported"]
    report = check_json(pbs["not_tflm"], "--target", "tflite-micro")
    assert report["tflm_version"] == TFLM_VERSION
    found = findings(report)
    assert {op: f["nodes"] for op, f in found.items()} == {"SIGN": ["sgn"], "REDUCE_PROD": ["prod"]}
    assert TFLM_VERSION in found["SIGN"]["hint"]
    assert check_json(pbs["cnn"], "--target", "tflite-micro")["supported"]


def test_codegen_target_agrees_with_the_generator(pbs, tmp_path):
    """What check reports for codegen is what the C generator would refuse, float (.pb) and
    int8 (.tflite) alike."""
    from toco_py.codegen import all_lowerings  # noqa: F401
    from toco_py.codegen.lowering import unsupported_ops as codegen_unsupported
    from toco_py.quantize.driver import QuantizeOptions
    from toco_py.tflite.reader import read_model

    graph, _, _ = api.graph_from_graphdef(parse_graphdef(pbs["not_tflm"].read_bytes()))
    expected = {label.split(" ", 1)[1] for label in codegen_unsupported(graph)}
    report = check_json(pbs["not_tflm"], "--target", "codegen")
    assert set(findings(report)) == expected

    calibration = tmp_path / "cal.npz"
    np.savez(calibration, image=np.random.default_rng(0).standard_normal((8, 20, 20, 3)).astype(np.float32))
    model = api.convert_bytes(pbs["cnn"].read_bytes(),
                              quantize=QuantizeOptions("int8", calibration_data=str(calibration))).model
    path = tmp_path / "cnn_int8.tflite"
    path.write_bytes(model)
    expected = {label.split(" ", 1)[1] for label in codegen_unsupported(read_model(model).main)}
    report = check_json(path, "--target", "codegen")
    assert set(findings(report)) == expected
    assert check_json(path)["supported"]  # every op of our own .tflite is a builtin


def test_bad_input_is_exit_2(pbs, tmp_path):
    assert_one_line_error(toco("check", str(tmp_path / "nope.pb")), "no such file")
    assert_one_line_error(toco("check", str(pbs["cnn"]), "--output_arrays", "nope"),
                          "unknown output array 'nope'")
    bad = tmp_path / "bad.pb"
    bad.write_bytes(b"hello, this is text")
    assert_one_line_error(toco("check", str(bad)), "not a TensorFlow GraphDef")
    proc = toco("check", str(pbs["cnn"]), "--target", "gpu")
    assert proc.returncode == 2 and "tflite-micro" in proc.stderr


def test_help_lists_targets():
    proc = toco("check", "--help")
    assert proc.returncode == 0
    for target in TARGETS:
        assert target in proc.stdout


# ---- models of several subgraphs ------------------------------------------------------------

SUBGRAPH_KEYS = {"index", "name", "op_count", "supported", "unsupported"}
# The ops TF's converter writes for control flow and resource variables; TFLM has them all
# (tests/test_op_tables.py's probe pins the traits), as the full runtime does.
CALLING_OPS = ("IF", "WHILE", "CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE")


@pytest.fixture(scope="module")
def cf_paths(tmp_path_factory):
    return cf_models.write_models(tmp_path_factory.mktemp("check_cf"))


def _checked_by_subgraph(path, target):
    """The report, after checking its subgraph entries against the model."""
    from toco_py.tflite.reader import read_model

    model = read_model(path.read_bytes())
    report = check_json(path, "--target", target)
    assert report["op_count"] == sum(len(g.ops) for g in model.graphs)
    assert [set(s) for s in report["subgraphs"]] == [SUBGRAPH_KEYS] * len(model.graphs)
    assert [(s["index"], s["name"], s["op_count"]) for s in report["subgraphs"]] == \
        [(i, g.name, len(g.ops)) for i, g in enumerate(model.graphs)]
    for s in report["subgraphs"]:
        assert s["supported"] == (not s["unsupported"])
        assert set(s["unsupported"]) <= set(findings(report))
        for op in s["unsupported"]:  # each finding names the nodes of every subgraph it is in
            where = [n for n in findings(report)[op]["nodes"] if n.endswith(f" (in {s['name']})")]
            assert bool(where) == (s["index"] > 0)
    return model, report


@pytest.mark.parametrize("name", ["cond", "while", "state"])
@pytest.mark.parametrize("target", ["tflite", "tflite-micro"])
def test_every_subgraph_is_checked(cf_paths, name, target):
    from toco_py.ops import REGISTRY

    model, report = _checked_by_subgraph(cf_paths[name], target)
    # The branches and loop bodies hold plain builtins both targets run.
    plain = [s for s, g in zip(report["subgraphs"], model.graphs)
             if not {op.type for op in g.ops} & set(CALLING_OPS)]
    assert len(plain) == {"cond": 2, "while": 2, "state": 0}[name]
    assert all(s["supported"] for s in plain), report["subgraphs"]
    if not all(op in REGISTRY for op in CALLING_OPS):
        pytest.skip("IF, WHILE and the variable ops get registry entries with the interpreter's "
                    "part of issue 14")
    assert report["supported"], report["unsupported"]
    assert f"all {report['op_count']} ops of {len(model.graphs)} subgraphs are supported" in \
        toco("check", str(cf_paths[name]), "--target", target).stdout


def test_unsupported_op_in_a_branch_is_reported_with_its_subgraph(cf_paths, tmp_path):
    """TFLM has no GELU kernel: a GELU in the else branch is found there, not in main."""
    from toco_py.tflite.reader import read_model
    from toco_py.tflite.writer import model_bytes

    model = read_model(cf_paths["cond"].read_bytes())
    branch = model.graphs[1]
    tanh = next(op for op in branch.ops if op.type == "TANH")
    tanh.type, tanh.attrs = "GELU", {"approximate": False}
    path = tmp_path / "gelu_branch.tflite"
    path.write_bytes(model_bytes(model.main))
    _, report = _checked_by_subgraph(path, "tflite-micro")
    assert report["subgraphs"][1]["unsupported"] == ["GELU"]
    assert "GELU" not in report["subgraphs"][0]["unsupported"] + report["subgraphs"][2]["unsupported"]
    gelu = findings(report)["GELU"]
    assert gelu["nodes"] == [f"{tanh.outputs[0]} (in {branch.name})"]
    assert "TFLM" in gelu["hint"] and "GELU" in gelu["hint"]
    proc = toco("check", str(path), "--target", "tflite-micro")
    assert proc.returncode == 1
    assert "3 subgraphs" in proc.stdout and f"(in {branch.name})" in proc.stdout


def test_one_subgraph_report_has_no_subgraph_entries(pbs):
    assert "subgraphs" not in check_json(pbs["cnn"])
