"""The page ships inside the package and loads nothing from anywhere else."""

from __future__ import annotations

import re
from importlib.resources import files

STATIC = files("interlink.dashboard") / "static"


def test_the_page_its_script_and_style_are_package_data() -> None:
    names = {p.name for p in STATIC.iterdir()}
    assert {"index.html", "dashboard.js", "dashboard.css"} <= names


def test_no_asset_reaches_outside_the_dashboard() -> None:
    for name in ("index.html", "dashboard.js", "dashboard.css"):
        text = (STATIC / name).read_text()
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+", text)) - {"http://www.w3.org"}
        assert not urls, (name, urls)  # the SVG namespace is a name, not a fetch
    html = (STATIC / "index.html").read_text()
    assert re.findall(r'(?:src|href)="([^"]+)"', html) == [
        "/static/dashboard.css",
        "/static/dashboard.js",
    ]
