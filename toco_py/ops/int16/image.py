"""16x8 RESIZE_BILINEAR: resize_bilinear.cc runs reference_ops::ResizeBilinearInteger on int16
as on int8 (google-ai-edge/LiteRT at f674577). RESIZE_NEAREST_NEIGHBOR only copies (movement.py)."""
from __future__ import annotations

import numpy as np

from ...ir import Graph, Op
from ..int8.image import resize_bilinear_quantized
from ..registry import register_int16


def resize_bilinear_int16(op: Op, graph: Graph, x: np.ndarray, size: np.ndarray) -> np.ndarray:
    return resize_bilinear_quantized(op, graph, x, size, "int16")


register_int16("RESIZE_BILINEAR", resize_bilinear_int16)
