"""IR op definitions by family; importing this package registers all of them."""
from . import (  # noqa: F401  (imported for their registrations)
    activation,
    array,
    broadcast,
    conv,
    converter_only,
    custom,
    elementwise,
    fake_quant,
    fully_connected,
    generate,
    image,
    pad,
    pool,
    quantize_ops,
    reduce,
    slicing,
)
from . import int8  # noqa: E402,F401  (int8 kernels attach to the definitions above)
from . import hybrid  # noqa: E402,F401  (and the dynamic-range kernels)
from .registry import CUSTOM_OPS, REGISTRY, OpDef, definition, get, has_trait, types_with

__all__ = ["CUSTOM_OPS", "REGISTRY", "OpDef", "definition", "get", "has_trait", "types_with"]
