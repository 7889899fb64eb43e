"""The console's third-party code is exactly the pinned npm package, served from this origin."""

from __future__ import annotations

import json
import re
from pathlib import Path

from api.console.routes import ASSETS, STATIC

NPM = Path(__file__).resolve().parents[1] / "api" / "console" / "npm"


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


# what would load something: an element's source or link, a module import, a CSS url, a fetch
LOADS_FROM_ELSEWHERE = re.compile(
    r"""(?:src|href)\s*[=:]\s*["']?(?:https?:)?//|from\s+["'](?:https?:)?//"""
    r"""|import\(\s*["'](?:https?:)?//|url\(\s*["']?(?:https?:)?//|fetch\(\s*["'](?:https?:)?//"""
)


def test_the_page_loads_nothing_from_elsewhere() -> None:
    """No CDN: no script, stylesheet or page of ours loads from another origin."""
    ours = {name: path.read_text() for name, path in ASSETS.items() if "/" not in name}
    ours["index.html"] = (STATIC / "index.html").read_text()
    assert {"console.js", "lib.js", "console.css", "reports.js"} <= set(ours)
    elsewhere = {name: LOADS_FROM_ELSEWHERE.findall(text) for name, text in ours.items()}
    assert {name: found for name, found in elsewhere.items() if found} == {}
    assert LOADS_FROM_ELSEWHERE.search('<script src="https://cdn.example/chart.js">')
    assert LOADS_FROM_ELSEWHERE.search('import x from "//cdn.example/x.js"')
