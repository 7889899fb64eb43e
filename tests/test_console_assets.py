"""The console's third-party code is exactly the pinned npm package, served from this origin."""

from __future__ import annotations

import json
from pathlib import Path

from api.console import ASSETS, STATIC

NPM = Path(__file__).resolve().parents[1] / "api" / "console_npm"


def test_the_served_chart_library_is_the_pinned_npm_release() -> None:
    pinned = json.loads((NPM / "package.json").read_text())["dependencies"]["chart.js"]
    locked = json.loads((NPM / "package-lock.json").read_text())
    assert locked["packages"]["node_modules/chart.js"]["version"] == pinned
    package = NPM / "node_modules" / "chart.js"
    assert json.loads((package / "package.json").read_text())["version"] == pinned
    served = STATIC / "vendor" / "chart.umd.js"
    assert served.read_bytes() == (package / "dist" / "chart.umd.js").read_bytes()
    assert (STATIC / "vendor" / "chart.js.LICENSE.md").read_bytes() == (
        package / "LICENSE.md"
    ).read_bytes()


def test_the_page_loads_nothing_from_elsewhere() -> None:
    """No CDN: no script, stylesheet or page of ours names another origin."""
    ours = {name: path.read_text() for name, path in ASSETS.items() if "/" not in name}
    ours["index.html"] = (STATIC / "index.html").read_text()
    assert {"console.js", "lib.js", "console.css"} <= set(ours)
    elsewhere = [name for name, text in ours.items() if "http://" in text or "https://" in text]
    assert elsewhere == []
