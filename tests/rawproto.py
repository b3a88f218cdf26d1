"""Protobuf wire encoding by hand, for values the Python library refuses to build.

A peer written in another language (or a hostile one) can put any varint in any field:
-1 in a uint32, 2**40 in a uint32, an enum number nobody defined. The generated classes
raise ValueError before such a message leaves the client, so a test that builds it with
them tests the client library, not the service. These helpers write the bytes directly;
the service's parser then sees exactly what such a peer would send (a uint32 field keeps
the low 32 bits of the varint, as every protobuf runtime does).
"""

from __future__ import annotations

from typing import Callable

import grpc

VARINT, LEN = 0, 2


def varint(value: int) -> bytes:
    """Base-128 varint of `value` as an int64 / uint64 (negative numbers take 10 bytes, as protobuf writes them)."""
    v = value & 0xFFFF_FFFF_FFFF_FFFF
    out = bytearray()
    while True:
        byte, v = v & 0x7F, v >> 7
        out.append(byte | (0x80 if v else 0))
        if not v:
            return bytes(out)


def int_field(number: int, value: int) -> bytes:
    return varint(number << 3 | VARINT) + varint(value)


def bytes_field(number: int, data: bytes) -> bytes:
    return varint(number << 3 | LEN) + varint(len(data)) + data


def message(msg, **raw_ints: int) -> bytes:
    """`msg` serialised, then each keyword as a raw varint of the field of that name.

    Protobuf merges repeated occurrences of a scalar field by keeping the last, so a raw
    value appended after the serialised message wins.
    """
    fields = msg.DESCRIPTOR.fields_by_name
    return msg.SerializeToString() + b"".join(int_field(fields[name].number, v) for name, v in raw_ints.items())


def nested(outer, field: str, inner: bytes) -> bytes:
    """`outer` serialised with the sub-message `field` replaced by the raw bytes `inner`."""
    outer = type(outer).FromString(outer.SerializeToString())
    outer.ClearField(field)
    return outer.SerializeToString() + bytes_field(outer.DESCRIPTOR.fields_by_name[field].number, inner)


def raw_stub(channel: grpc.Channel, method: str, reply_type, streaming: bool) -> Callable:
    """A callable for `/semcom.v1.Service/Method` that sends already-encoded request bytes."""
    make = channel.stream_unary if streaming else channel.unary_unary
    return make(method, request_serializer=lambda b: b, response_deserializer=reply_type.FromString)
