"""16x8 MAX_POOL_2D and AVERAGE_POOL_2D: LiteRT's reference_integer_ops::MaxPool and
AveragePool have int16 overloads computing as the int8 ones (pooling.cc of
google-ai-edge/LiteRT at f674577; the same rounded division, the clamp to the fused
activation), so the int8 kernels, which handle every quantized type, serve both."""
from __future__ import annotations

from ..int8.pool import average_pool_quantized, max_pool_quantized
from ..registry import register_int16

register_int16("MAX_POOL_2D", max_pool_quantized)
register_int16("AVERAGE_POOL_2D", average_pool_quantized)
