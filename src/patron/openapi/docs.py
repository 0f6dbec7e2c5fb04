"""The API reference page: Swagger UI, from the `swagger-ui-py` package, over `/openapi.json`.

Its script and style are the package's own files, served by Patron under `/docs/assets/`, so
the page works offline and asks no other host for anything: its `Content-Security-Policy`
allows this origin only, and Swagger UI's online validator badge is turned off.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

ASSETS_PATH = "/docs/assets"
SCRIPT = "swagger-ui-bundle.js"
STYLE = "swagger-ui.css"
SCRIPT_TYPE = "text/javascript"
STYLE_TYPE = "text/css"
PAGE_TYPE = "text/html"
# The asset URLs do not change when the package does: kept a day, not for good.
ASSET_CACHE_CONTROL = "public, max-age=86400"
PAGE_CACHE_CONTROL = "no-cache"
# Swagger UI sets styles inline and draws some icons as data: URLs; "Try it out" calls this origin.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)

PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Patron API reference</title>
<link rel="stylesheet" href="{ASSETS_PATH}/{STYLE}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS_PATH}/{SCRIPT}"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  validatorUrl: null,
}});
</script>
</body>
</html>
""".encode()


class AssetsMissing(RuntimeError):
    """The `swagger-ui-py` package, a dependency of Patron, is not installed."""


def _assets_folder() -> Path:
    # Found without importing the package: its `__init__` loads web-framework adapters.
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or spec.origin is None:
        raise AssetsMissing("the swagger-ui-py package is not installed")
    return Path(spec.origin).parent / "static"


@cache
def asset(name: str) -> bytes:
    """The bytes of one of Swagger UI's files (`SCRIPT`, `STYLE`), read once."""
    return (_assets_folder() / name).read_bytes()
