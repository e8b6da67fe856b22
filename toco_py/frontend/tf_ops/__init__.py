"""TensorFlow op -> IR op mappers by family; importing registers them all."""
from . import (  # noqa: F401  (imported for their registrations)
    array,
    control,
    detection,
    dynamic,
    fft,
    image,
    linalg,
    lstm_block,
    math,
    nn,
    normalization,
    scatter,
    segment,
    sequence,
    slicing,
    special,
    tensor_arrays,
    unary_composition,
)
from .registry import MAPPERS, tf_op

__all__ = ["MAPPERS", "tf_op"]
