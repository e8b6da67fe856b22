"""C99 text for values: literals, arrays, strings and comments, all deterministic."""
from __future__ import annotations

import math
import re

import numpy as np

from ..tflite.options import TENSOR_TYPES

# C type of each tensor dtype a bundle holds (the one list of them, in TFLite's TensorType
# order); float16 travels as its bits.
C_TYPES = {"float32": "float", "float16": "uint16_t", "int32": "int32_t", "uint8": "uint8_t",
           "int64": "int64_t", "bool": "uint8_t", "int16": "int16_t", "int8": "int8_t",
           "float64": "double", "uint32": "uint32_t", "uint16": "uint16_t"}
# TFLite's TensorType numbers, so that users of the bundle's header recognise them.
DTYPE_CODES = {dtype: TENSOR_TYPES.index(dtype) for dtype in C_TYPES}
# Bytes per element (numpy's; float16's bits take its 2).
ITEM_SIZES = {dtype: np.dtype(dtype).itemsize for dtype in C_TYPES}
# Values per line in the weights file: short lines keep diffs and editors happy.
PER_LINE = 8

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def is_identifier(text: str) -> bool:
    return bool(_IDENTIFIER.match(text))


def identifier_from(text: str) -> str:
    """A C identifier made from a file name: other characters become '_'."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text) or "model"
    return "m_" + name if name[0].isdigit() else name


def float_literal(value: float) -> str:
    """A float constant that reads back as exactly this float32 (9 significant digits
    always round-trip), or the math.h macro for an infinity or NaN."""
    value = float(np.float32(value))
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "HUGE_VALF" if value > 0 else "-HUGE_VALF"
    text = "%.9g" % value
    if "e" not in text and "." not in text:
        text += ".0"
    return text + "f"


def int_literal(value: int) -> str:
    value = int(value)
    # The most negative values have no literal of their own type: write them as a sum.
    if value == -(1 << 63):
        return "(-9223372036854775807LL - 1)"
    if value == -(1 << 31):
        return "(-2147483647 - 1)"
    if value > (1 << 31) - 1 or value < -(1 << 31):
        return f"{value}LL"
    return str(value)


def _float32_items(flat: np.ndarray) -> list[str]:
    items = ["%.9g" % v for v in flat.astype(np.float32).tolist()]
    for i, text in enumerate(items):
        if text[-1].isdigit() and "." not in text and "e" not in text:
            items[i] = text + ".0f"  # "2" + "f" would not be a floating constant
        elif text[-1].isdigit():
            items[i] = text + "f"
        else:
            items[i] = float_literal(float(text))  # inf, nan
    return items


def array_values(values: np.ndarray, dtype: str) -> list[str]:
    """Element literals of a constant in its C type (see C_TYPES)."""
    flat = np.ascontiguousarray(values).reshape(-1)
    if dtype == "float32":
        return _float32_items(flat)
    if dtype == "float16":
        return ["0x%04x" % v for v in flat.astype(np.float16).view(np.uint16).tolist()]
    if dtype == "float64":
        return ["%.17g" % v if math.isfinite(v) else float_literal(v) for v in flat.tolist()]
    if dtype == "bool":
        return ["1" if v else "0" for v in flat.tolist()]
    if dtype in ("uint32", "uint16"):
        return [f"{v}u" for v in flat.tolist()]
    return [int_literal(v) for v in flat.tolist()]


def initializer(values: np.ndarray, dtype: str, indent: str = "    ") -> str:
    """The `{...}` of an array, PER_LINE values a line."""
    return braces(array_values(values, dtype), indent)


def braces(items: list[str], indent: str = "    ") -> str:
    """`{...}` around literals already written, PER_LINE a line."""
    lines = [indent + ", ".join(items[i:i + PER_LINE]) for i in range(0, len(items), PER_LINE)]
    return "{\n" + ",\n".join(lines) + "\n}"


def compound_literal(ctype: str, items: list[str]) -> str:
    """A C99 compound literal: an array written where it is passed, e.g. ctype "int32_t"
    or "void *" (pointers). An empty array has no literal; NULL stands for it (kernels
    never read one of rank 0)."""
    if not items:
        return "NULL"
    return f"({ctype} const[]){{{', '.join(items)}}}"


def string_literal(text: str) -> str:
    """A C string of the text's UTF-8 bytes, escaped so that no byte can end the string,
    start a trigraph or depend on the source character set."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\?':
            out.append("\\" + ch)
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append("\\%03o" % byte)  # octal: at most three digits, unlike \x
    return '"' + "".join(out) + '"'


def comment_text(text: str) -> str:
    """Text that is safe inside /* */: no comment delimiters, no trigraphs, ASCII only."""
    text = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    while "??" in text:
        text = text.replace("??", "?_")
    return text.replace("*/", "* /").replace("/*", "/ *")
