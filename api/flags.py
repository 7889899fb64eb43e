"""Boolean query values: `true` or `false` and nothing else (FastAPI would also take 1, 0, yes,
no, on and off, so `reveal=1` would reveal numbers); anything else is a 422 naming the
parameter. Body booleans are pydantic's StrictBool likewise."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator


def _true_or_false(value: object) -> object:
    if isinstance(value, bool) or value in ("true", "false"):
        return value == "true" if isinstance(value, str) else value
    raise ValueError("must be true or false")


Flag = Annotated[bool, BeforeValidator(_true_or_false)]
