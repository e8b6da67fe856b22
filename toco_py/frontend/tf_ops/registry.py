"""Registry of TensorFlow-op mappers: each turns one NodeDef into IR ops."""
from __future__ import annotations

from collections.abc import Callable

MAPPERS: dict[str, Callable] = {}


def tf_op(*names: str):
    def decorate(fn: Callable) -> Callable:
        for name in names:
            if name in MAPPERS:
                raise ValueError(f"TF op {name} is mapped twice")
            MAPPERS[name] = fn
        return fn
    return decorate
