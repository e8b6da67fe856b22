"""Just enough of the protobuf wire format to walk a GraphDef without parsing it whole, so
that big constant payloads can be viewed in place (in the mapped file) instead of copied."""
from __future__ import annotations

from collections.abc import Iterator

VARINT, FIXED64, LENGTH, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5


class WireError(Exception):
    """The bytes are not valid protobuf wire format."""


def read_varint(buf, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise WireError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def fields(buf, start: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
    """(field number, wire type, value start, value end, field start) for each field of the
    message in buf[start:end]; for LENGTH fields the value is the payload."""
    pos = start
    while pos < end:
        field_start = pos
        key, pos = read_varint(buf, pos, end)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wire_type == VARINT:
            _, value_end = read_varint(buf, pos, end)
            value_start = pos
        elif wire_type == LENGTH:
            length, value_start = read_varint(buf, pos, end)
            value_end = value_start + length
        elif wire_type == FIXED64:
            value_start, value_end = pos, pos + 8
        elif wire_type == FIXED32:
            value_start, value_end = pos, pos + 4
        else:
            raise WireError(f"unsupported wire type {wire_type}")
        if value_end > end:
            raise WireError("field runs past the end of its message")
        yield number, wire_type, value_start, value_end, field_start
        pos = value_end


def field_range(buf, start: int, end: int, number: int) -> tuple[int, int, int] | None:
    """(value start, value end, field start) of the last LENGTH field `number`, or None."""
    found = None
    for n, wire_type, value_start, value_end, field_start in fields(buf, start, end):
        if n == number and wire_type == LENGTH:
            found = (value_start, value_end, field_start)
    return found
