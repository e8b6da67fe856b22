"""IR op definitions by family; importing this package registers all of them."""
from . import (  # noqa: F401  (imported for their registrations)
    activation,
    array,
    bitcast,
    broadcast,
    control_flow,
    conv,
    conv3d,
    converter_only,
    custom,
    densify,
    detection,
    dynamic,
    elementwise,
    fake_quant,
    fft,
    fully_connected,
    generate,
    image,
    linalg,
    lstm,
    lstm_block,
    normalization,
    pad,
    pool,
    quantize_ops,
    reduce,
    scatter,
    segment,
    sequence,
    slicing,
    tensor_array,
    variables,
)

# isort: split
# The int8, 16x8 and dynamic-range kernels attach to the definitions above, so they load after them.
from . import hybrid, int8, int16  # noqa: F401
from .registry import CUSTOM_OPS, REGISTRY, OpDef, definition, get, has_trait, types_with

__all__ = ["CUSTOM_OPS", "REGISTRY", "OpDef", "definition", "get", "has_trait", "types_with"]
