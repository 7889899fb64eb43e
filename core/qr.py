"""QR codes drawn on the server (segno: pure Python, no dependencies, PNG and SVG writers), so
the console needs no script or CDN for them: enrolment codes and two-factor setup."""

from __future__ import annotations

import base64
import io

import segno


def qr_png(text: str, scale: int = 6) -> bytes:
    """A PNG of `text` as a QR code, error correction M, with the standard quiet zone."""
    out = io.BytesIO()
    segno.make(text, error="m", micro=False).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def qr_data_uri(text: str) -> str:
    """The same PNG as a `data:` URI, for an answer that must not put a secret in a URL."""
    return "data:image/png;base64," + base64.b64encode(qr_png(text)).decode()
