"""TensorFlow op -> IR op mappers by family; importing registers them all."""
from . import array, control, detection, image, math, nn, normalization, slicing  # noqa: F401  (imported for their registrations)
from .registry import MAPPERS, tf_op

__all__ = ["MAPPERS", "tf_op"]
