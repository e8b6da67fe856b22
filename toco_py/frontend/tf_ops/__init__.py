"""TensorFlow op -> IR op mappers by family; importing registers them all."""
from . import (  # noqa: F401  (imported for their registrations)
    array,
    control,
    detection,
    fft,
    image,
    linalg,
    math,
    nn,
    normalization,
    sequence,
    slicing,
    special,
)
from .registry import MAPPERS, tf_op

__all__ = ["MAPPERS", "tf_op"]
