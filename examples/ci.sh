#!/usr/bin/env bash
# A CI step: convert every frozen graph in a folder (float and int8) and validate each
# conversion; the job fails on the first error (toco-py exits non-zero with a one-line reason).
#
#   examples/ci.sh [MODELS_DIR] [CALIBRATION.npz]
#
# Each MODEL.pb gives build/ci/MODEL.tflite and build/ci/MODEL_int8.tflite.
set -euo pipefail

models=${1:-"$(dirname "$0")/models"}
calibration=${2:-"$models/digits_calibration.npz"}
toco=${TOCO:-toco-py}
out=${OUT:-build/ci}
mkdir -p "$out"

shopt -s nullglob
graphs=("$models"/*.pb)
if [ ${#graphs[@]} -eq 0 ]; then
  echo "ci: no .pb files in $models" >&2
  exit 2
fi
for pb in "${graphs[@]}"; do
  name=$(basename "$pb" .pb)
  echo "== $name"
  "$toco" convert --graph_def_file "$pb" --output_file "$out/$name.tflite"
  "$toco" validate "$pb" "$out/$name.tflite"
  "$toco" convert --graph_def_file "$pb" --output_file "$out/${name}_int8.tflite" \
    --quantize int8 --calibration-data "$calibration"
  if python3 -c "import ai_edge_litert" 2>/dev/null; then
    # The reference interpreter and LiteRT must agree exactly on the int8 model.
    "$toco" validate "$out/${name}_int8.tflite" --atol 0 --rtol 0
  else
    "$toco" run "$out/${name}_int8.tflite" --random -o "$out/${name}_int8.outputs.npz" >/dev/null
  fi
done
echo "ci: ${#graphs[@]} models converted and validated"
