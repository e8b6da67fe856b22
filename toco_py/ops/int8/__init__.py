"""int8 kernels, bit-exact with LiteRT's reference kernels; importing registers them."""
from . import fully_connected  # noqa: F401  (imported for its registrations)
from . import activation, elementwise, softmax  # noqa: F401  (imported for their registrations)
from . import conv, movement, pool, reduce  # noqa: F401  (imported for their registrations)
