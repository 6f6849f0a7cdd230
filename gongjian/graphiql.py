"""GraphiQL that works offline: strawberry's page with its seven CDN files served by the app.

`gongjian/ide/install-assets` (run by `./dev`) installs the pinned npm packages into
`gongjian/ide/node_modules`; the page's unpkg URLs are rewritten to `/_ide/...`, and the
`integrity` attributes stay valid because the files are byte-for-byte the same. Where the
files are missing, the page keeps the CDN URLs and the log says so.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from strawberry.http.ides import get_graphql_ide_html

log = logging.getLogger("gongjian")

ASSETS: Final = Path(__file__).resolve().parent / "ide" / "node_modules"
PREFIX: Final = "/_ide/"
CDN: Final = "https://unpkg.com/"

# the page's CDN URL -> the file's path inside node_modules
FILES: Final = {
    "react@18.2.0/umd/react.production.min.js": "react/umd/react.production.min.js",
    "react-dom@18.2.0/umd/react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "js-cookie@3.0.5/dist/js.cookie.min.js": "js-cookie/dist/js.cookie.min.js",
    "graphiql@3.8.3/graphiql.min.css": "graphiql/graphiql.min.css",
    "@graphiql/plugin-explorer@1.0.2/dist/style.css": "@graphiql/plugin-explorer/dist/style.css",
    "graphiql@3.8.3/graphiql.min.js": "graphiql/graphiql.min.js",
    "@graphiql/plugin-explorer@1.0.2/dist/index.umd.js": "@graphiql/plugin-explorer/dist/index.umd.js",
}
MEDIA_TYPES: Final = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def installed(folder: Path = ASSETS) -> bool:
    return all((folder / local).is_file() for local in FILES.values())


def page(folder: Path = ASSETS) -> str:
    """strawberry's GraphiQL page, loading its files from the app when they are installed."""
    html = get_graphql_ide_html("graphiql")
    missing = [cdn for cdn in FILES if CDN + cdn not in html]
    if missing:
        raise RuntimeError(f"strawberry's GraphiQL page no longer loads {missing[0]}: update gongjian/graphiql.py")
    if not installed(folder):
        log.warning(
            "GraphiQL files are not installed (run gongjian/ide/install-assets, needs npm): "
            "the IDE loads them from the public CDN",
        )
        return html
    for cdn in FILES:
        html = html.replace(CDN + cdn, PREFIX + cdn)
    return html


async def serve_asset(request: Request) -> Response:
    """One of the seven files; nothing else is reachable under /_ide/."""
    name = request.path_params["name"]
    local = FILES.get(name)
    if local is None or not (ASSETS / local).is_file():
        return JSONResponse({"errors": [{"message": "Not found", "extensions": {"code": "NOT_FOUND"}}]}, 404)
    return FileResponse(
        ASSETS / local,
        media_type=MEDIA_TYPES[Path(local).suffix],
        headers={"cache-control": "public, max-age=31536000, immutable"},
    )
