"""Reading a request body within limits: raw size, gzip, decompressed size, JSON; for the
phones' uploads (ingest) and the lead imports (report API)."""

from __future__ import annotations

import json
import zlib
from typing import Any

from fastapi import Request

from core.errors import Invalid, TooLarge, UnsupportedEncoding

DECOMPRESSION_RATIO_LIMIT = 10  # a gzip body may expand to at most 10x max_body_bytes
# Far beyond every integer column (UInt64 has 20 digits), so a too-large value still reaches its
# field's check and the 422 names the field; far below what makes int() slow (or refuse: 4300)
MAX_INTEGER_DIGITS = 100


def too_large(message: str) -> TooLarge:
    return TooLarge("payload_too_large", message)


async def read_json_body(request: Request, max_body_bytes: int) -> Any:
    return parse_json(await read_body(request, max_body_bytes))


async def read_body(request: Request, max_body_bytes: int) -> bytes:
    """The body's bytes (gunzipped), refused with 413 beyond `max_body_bytes` (x10 unzipped)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
        raise too_large(f"the body is larger than {max_body_bytes} bytes; send smaller batches")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body_bytes:
            raise too_large(f"the body is larger than {max_body_bytes} bytes; send smaller batches")
        chunks.append(chunk)
    raw = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding == "gzip":
        raw = gunzip_bounded(raw, max_body_bytes * DECOMPRESSION_RATIO_LIMIT)
    elif encoding not in ("identity", ""):
        raise UnsupportedEncoding(
            "unsupported_encoding", f"Content-Encoding {encoding!r}: use gzip"
        )
    return raw


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValueError(f"an integer has more than {MAX_INTEGER_DIGITS} digits")
    return int(digits)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes) -> Any:
    """Strict JSON: no NaN/Infinity, integers of at most 100 digits, nesting within the parser's
    recursion limit; anything else a 422 `invalid_json`."""
    try:
        return json.loads(raw, parse_int=_bounded_int, parse_constant=_no_constant)
    except RecursionError:
        raise Invalid("invalid_json", "the body is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise Invalid("invalid_json", f"the body is not valid JSON: {exc}") from exc


def gunzip_bounded(data: bytes, max_output_bytes: int) -> bytes:
    """Decompress every gzip member (RFC 1952 allows several, read one after the other) without
    ever holding more than max_output_bytes (no gzip bomb)."""
    out = b""
    while True:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(data, max_output_bytes + 1 - len(out))
        except zlib.error as exc:
            raise Invalid("invalid_gzip", f"the body is not valid gzip: {exc}") from exc
        if len(out) > max_output_bytes or inflater.unconsumed_tail:
            raise too_large(f"the body decompresses to more than {max_output_bytes} bytes")
        if not inflater.eof:
            raise Invalid("invalid_gzip", "the gzip body is truncated")
        data = inflater.unused_data
        if not data:
            return out
