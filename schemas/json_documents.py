"""Generated JSON documents committed to the repository (agent schemas, OpenAPI): one stable
rendering, so a test can tell when the committed copy is stale."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write_documents(
    directory: Path, documents: dict[str, dict[str, Any]], suffix: str
) -> list[Path]:
    """`directory/<name><suffix>` for each document; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in documents.items():
        path = directory / f"{name}{suffix}"
        path.write_text(render(document))
        written.append(path)
    return written
