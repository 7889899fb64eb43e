"""Reading an upload body within limits: raw size, gzip, decompressed size, JSON."""

from __future__ import annotations

import json
import zlib
from typing import Any

from fastapi import Request

from schemas.errors import ApiError

DECOMPRESSION_RATIO_LIMIT = 10  # a gzip body may expand to at most 10x max_body_bytes


def too_large(message: str) -> ApiError:
    return ApiError(413, "payload_too_large", message)


async def read_json_body(request: Request, max_body_bytes: int) -> Any:
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
        raise ApiError(415, "unsupported_encoding", f"Content-Encoding {encoding!r}: use gzip")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(422, "invalid_json", f"the body is not valid JSON: {exc}") from exc


def gunzip_bounded(data: bytes, max_output_bytes: int) -> bytes:
    """Decompress gzip without ever holding more than max_output_bytes (no gzip bomb)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, max_output_bytes + 1)
    except zlib.error as exc:
        raise ApiError(422, "invalid_gzip", f"the body is not valid gzip: {exc}") from exc
    if len(out) > max_output_bytes or inflater.unconsumed_tail:
        raise too_large(f"the body decompresses to more than {max_output_bytes} bytes")
    if not inflater.eof:
        raise ApiError(422, "invalid_gzip", "the gzip body is truncated")
    return out
