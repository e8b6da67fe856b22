"""The op coverage benchmark's machinery (benchmarks/op_coverage.py), on a few of its graphs:
what it builds, converts and judges must keep working, or its table silently rots."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from benchmarks import op_coverage, op_coverage_graphs
from tests.support.oracle import run_litert
from toco_py import api

CONVERTING = ("Abs", "AddV2", "Conv2D", "Relu", "Softmax")  # converted and matched today


@pytest.fixture(scope="module")
def table():
    return op_coverage_graphs.cases()


def test_every_listed_op_has_a_graph_or_a_reason(table):
    missing = set(op_coverage_graphs.listed_ops()) - set(table) - set(op_coverage_graphs.NO_GRAPH)
    assert not missing


@pytest.mark.parametrize("op", CONVERTING)
def test_graph_converts_and_matches(table, op):
    result = op_coverage.measure(op, table, int8=False, samples=16)
    assert (result.graph, result.tf_ok, result.ours_ok, result.match) == ("", True, True, True), result
    assert len(result.ours_ops) <= len(result.tf_ops)


def test_a_wrong_model_is_judged_a_mismatch(table):
    """Our conversion of Abs judged against the Relu graph (same input and output shapes)."""
    relu, absolute = (op_coverage.OneOp(*table[op]) for op in ("Relu", "Abs"))
    wrong = api.convert_bytes(absolute.pb, input_arrays=list(absolute.inputs),
                              output_arrays=absolute.outputs).model
    feeds = relu.feeds(0)
    assert list(run_litert(wrong, feeds).values())[0].shape == (2, 3, 4)
    matched, note = op_coverage.judge_match(relu, wrong)
    assert not matched and note


def test_converter_failures_are_results(table, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("error: refused on purpose\nsecond line")

    monkeypatch.setattr(api, "convert_bytes", refuse)
    result = op_coverage.measure("Abs", table, int8=False, samples=16)
    assert (result.tf_ok, result.ours_ok, result.ours_error) == (True, False, "error: refused on purpose")
    broken = op_coverage.measure("Abs", {"Abs": (lambda: 1 / 0, False)}, int8=False, samples=16)
    assert broken.graph.startswith("building failed")


def test_int8_errors_of_both_converters(table):
    net = op_coverage.OneOp(*table["AddV2"])
    with tempfile.TemporaryDirectory() as tmp:
        row = op_coverage.measure_int8(net, 16, Path(tmp))
    assert set(row) == {"tf", "ours", "tf_int8_ops", "ours_int8_ops"}, row
    assert 0 < row["ours"] <= 1.25 * row["tf"]
    assert row["tf_int8_ops"] == row["ours_int8_ops"] == 1  # the ADD; QUANTIZE/DEQUANTIZE not counted
    float_model = api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs).model
    assert op_coverage.int8_op_count(float_model) == 0
