"""int8 kernels, bit-exact with LiteRT's reference kernels; importing registers them."""
from . import (  # noqa: F401  (imported for their registrations)  # noqa: F401  (imported for their registrations)
    activation,
    conv,
    dynamic,
    elementwise,
    fully_connected,  # noqa: F401  (imported for its registrations)
    image,
    lstm,
    movement,
    pool,
    reduce,
    scatter,
    softmax,
    unary,
)
