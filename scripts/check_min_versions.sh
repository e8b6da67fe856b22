#!/usr/bin/env bash
# Checks the lowest runtime dependency versions pyproject.toml admits (requirements-min.txt):
# toco-py installed with them in .venv-min converts the example models (float, int8, dynamic
# range) to models that LiteRT runs to exactly the outputs of the models .venv's (CI's)
# versions write. The files may differ in layout (flatbuffers builds them differently).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=build/min-versions
if [ ! -x .venv-min/bin/toco-py ]; then
    "$PYTHON" -m venv .venv-min
    .venv-min/bin/python -m pip install --quiet -r requirements-min.txt
    .venv-min/bin/python -m pip install --quiet --no-deps -e .
fi
mkdir -p "$OUT"
for venv in .venv-min .venv; do
    for model in digits_cnn digits_mlp; do
        pb=examples/models/$model.pb
        "$venv/bin/toco-py" convert --graph_def_file "$pb" -o "$OUT/$model.float.$venv.tflite" 2>/dev/null
        "$venv/bin/toco-py" convert --graph_def_file "$pb" -o "$OUT/$model.int8.$venv.tflite" --quantize int8 \
            --calibration-data examples/models/digits_calibration.npz 2>/dev/null
        "$venv/bin/toco-py" convert --graph_def_file "$pb" -o "$OUT/$model.dynamic.$venv.tflite" \
            --quantize dynamic 2>/dev/null
    done
done
.venv/bin/python - "$OUT" <<'PY'
import glob, sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

images = np.load("examples/models/digits_test.npz")["image"][:20].astype(np.float32)
def outputs(path):
    interp = Interpreter(model_path=path, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    (inp,), (out,) = interp.get_input_details(), interp.get_output_details()
    result = []
    for image in images:
        interp.set_tensor(inp["index"], image[None].reshape(inp["shape"]))
        interp.invoke()
        result.append(interp.get_tensor(out["index"]).copy())
    return np.stack(result)
pairs = sorted(glob.glob(f"{sys.argv[1]}/*..venv-min.tflite"))
for low in pairs:
    high = low.replace("..venv-min.", "..venv.")
    same = np.array_equal(outputs(low), outputs(high))
    print(f"{low.split('/')[-1].split('..')[0]}: {'same outputs' if same else 'OUTPUTS DIFFER'}")
    if not same:
        sys.exit(1)
print(f"{len(pairs)} models: the lowest versions give the same results as the tested set")
PY
