"""16x8 kernels (int16 activations, int8 weights), bit-exact with LiteRT's reference kernels;
importing registers them (OpDef.int16_kernel). Each module covers one op family."""
from . import (  # noqa: F401  (imported for their registrations)
    activation,
    conv,
    elementwise,
    fully_connected,
    image,
    movement,
    pool,
    reduce,
    softmax,
    unary,
)
