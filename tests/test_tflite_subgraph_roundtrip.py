"""TF's converter's models of several subgraphs (IF, WHILE, resource variables) read and
written back: LiteRT computes exactly the same on the rewritten bytes as on the original,
invoke after invoke (a variable's state carries over), and the rewritten model reads back
with the same subgraphs."""
import numpy as np
import pytest

from tests.support import cf_models
from tests.support.oracle import litert
from toco_py.tflite.reader import read_model
from toco_py.tflite.writer import model_bytes

INVOKES = 4


@pytest.fixture(scope="module", params=sorted(cf_models.MODELS))
def model(request):
    name = request.param
    return name, cf_models.MODELS[name]()


def _outputs_over_invokes(data: bytes, feeds: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """One interpreter invoked once per feed, so state kept between invokes counts."""
    interp = litert(data)
    results = []
    for inputs in feeds:
        for detail, value in zip(interp.get_input_details(), inputs):
            interp.set_tensor(detail["index"], value)
        interp.invoke()
        results.append([interp.get_tensor(d["index"]) for d in interp.get_output_details()])
    return results


def test_litert_computes_the_same_on_the_rewritten_model(model):
    name, original = model
    rewritten = model_bytes(read_model(original).main)
    feeds = cf_models.feeds(name, INVOKES)
    expected = _outputs_over_invokes(original, feeds)
    got = _outputs_over_invokes(rewritten, feeds)
    for invoke, (want, have) in enumerate(zip(expected, got)):
        assert len(want) == len(have)
        for w, h in zip(want, have):
            np.testing.assert_array_equal(h, w, err_msg=f"{name}, invoke {invoke}")
    if name == "state":  # the state really carries over: the same input gives a new output
        again = _outputs_over_invokes(rewritten, [feeds[0], feeds[0]])
        assert not np.array_equal(again[0][0], again[1][0])


def test_rewritten_model_reads_back_with_the_same_subgraphs(model):
    name, original = model
    before = read_model(original)
    after = read_model(model_bytes(before.main))
    assert len(before.graphs) > 1, name
    assert after.subgraph_names == before.subgraph_names
    assert after.op_versions == before.op_versions
    for old, new in zip(before.graphs, after.graphs):
        assert new.name == old.name
        assert new.inputs == old.inputs and new.outputs == old.outputs
        assert [(op.type, op.attrs, op.inputs, op.outputs) for op in new.ops] == \
               [(op.type, op.attrs, op.inputs, op.outputs) for op in old.ops]
        assert new.subgraphs is after.graphs
        for t_name, t in old.tensors.items():
            assert new.tensors[t_name].dtype == t.dtype
            assert new.tensors[t_name].shape == t.shape
    kinds = {op.type for g in after.graphs for op in g.ops}
    expected = {"cond": {"IF"}, "while": {"WHILE"},
                "state": {"CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"}}[name]
    assert expected <= kinds
