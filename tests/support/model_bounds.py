"""Hypothesis strategies of valid payloads drawn from the pydantic models themselves, with
every bounded number often at its bounds: what ingest accepts, built from what it declares."""

from __future__ import annotations

import enum
import types
from datetime import UTC, datetime
from typing import Any, Union, get_args, get_origin

import annotated_types
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel
from pydantic.fields import FieldInfo

from schemas.column_types import EARLIEST_TIME, LATEST_TIME
from schemas.payloads import NO_NUMBER_MARKERS, dialable_number

TEXT = st.characters(exclude_categories=["Cs"])


def _bounds(metadata: list[Any]) -> tuple[Any, Any, int | None, int]:
    low = high = max_len = None
    min_len = 0
    for item in metadata:
        for name in ("ge", "gt"):
            if getattr(item, name, None) is not None:
                low = getattr(item, name)
        for name in ("le", "lt"):
            if getattr(item, name, None) is not None:
                high = getattr(item, name)
        if isinstance(item, annotated_types.MaxLen) or getattr(item, "max_length", None):
            max_len = getattr(item, "max_length", None)
        if isinstance(item, annotated_types.MinLen) or getattr(item, "min_length", None):
            min_len = getattr(item, "min_length", 0) or 0
    return low, high, max_len, min_len


def _annotation_metadata(annotation: Any) -> tuple[Any, list[Any]]:
    if hasattr(annotation, "__metadata__"):
        return annotation.__origin__, list(annotation.__metadata__)
    return annotation, []


def for_annotation(annotation: Any, metadata: list[Any]) -> st.SearchStrategy[Any]:
    annotation, more = _annotation_metadata(annotation)
    metadata = [*metadata, *more]
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return st.one_of(*(for_annotation(arg, metadata) for arg in get_args(annotation)))
    if annotation is type(None):
        return st.none()
    low, high, max_len, min_len = _bounds(metadata)
    if origin is list:
        (item,) = get_args(annotation)
        return st.lists(for_annotation(item, []), max_size=min(max_len or 3, 3))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_strategy(annotation)
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        low = -(2**63) if low is None else low
        high = 2**63 - 1 if high is None else high
        return st.one_of(st.just(low), st.just(high), st.integers(low, high))
    if annotation is float:
        return st.floats(low, high, allow_nan=False, allow_infinity=False, width=32)
    if annotation is str and any(getattr(m, "func", None) is dialable_number for m in metadata):
        digits = st.text(st.sampled_from("0123456789+-(). *#/,;"), max_size=max_len or 64)
        return st.one_of(digits.map(str.strip), st.sampled_from(sorted(NO_NUMBER_MARKERS)))
    if annotation is str:
        text = st.text(TEXT, min_size=min_len, max_size=max_len or 64).map(str.strip)
        return text.filter(lambda value: len(value) >= min_len)
    if annotation in (datetime, AwareDatetime):
        naive = st.datetimes(
            EARLIEST_TIME.replace(tzinfo=None), LATEST_TIME.replace(tzinfo=None, year=2099)
        )
        return st.one_of(st.just(EARLIEST_TIME), naive.map(lambda d: d.replace(tzinfo=UTC)))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from(annotation)
    raise TypeError(f"no strategy for {annotation!r}")


def field_strategy(info: FieldInfo) -> st.SearchStrategy[Any]:
    return for_annotation(info.annotation, list(info.metadata))


def model_strategy(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    fields = {name: field_strategy(info) for name, info in model.model_fields.items()}
    # validated: exactly what ingest would accept (a draw the model refuses is no input)
    return st.fixed_dictionaries(fields).map(model.model_validate)


def payloads_at_bounds(models: tuple[type[BaseModel], ...]) -> st.SearchStrategy[Any]:
    return st.one_of(*(model_strategy(model) for model in models))
