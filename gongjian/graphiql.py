"""GraphiQL that works offline and explains itself: strawberry's page with its seven CDN
files served by the app, opening on a Chinese-and-English welcome with a ready `Login`.

`gongjian/ide/install-assets` (run by `./dev`) installs the pinned npm packages into
`gongjian/ide/node_modules`; the page's unpkg URLs are rewritten to `/_ide/...`, and the
`integrity` attributes stay valid because the files are byte-for-byte the same. Where the
files are missing, the page keeps the CDN URLs and the log says so.

The welcome replaces strawberry's generic comment: how to log in, the contract's `Login`
operation ready to run, and where the token goes. The page's fetcher watches for a
`login.token` in an answer and puts `{"Authorization": "Bearer <token>"}` into the headers
pane; the pane's text is kept in the browser's localStorage (`gongjian:headers`), so every
later request, also from a new page or tab, is signed in; emptying the pane signs out.
"""

from __future__ import annotations

import json
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

# the contract's Login, as written there (trusted-documents-only mode accepts it as it is)
LOGIN: Final = """mutation Login($username: String!, $password: String!) {
  login(input: {username: $username, password: $password}) {
    token
    expiresAt
    viewer { id username roles { role scope { id name } } }
    userErrors { field message code }
  }
}
"""

WELCOME: Final = (
    """# 共建 Gongjian GraphQL API · 欢迎使用 Welcome
#
# 1. 登录 Log in: 在下方 Variables 填写用户名和密码，按 ▶ 运行 Login。
#    Fill in username and password under Variables below, then press ▶ to run Login.
#    演示数据 Demo data (./dev serve): admin, staff, head, cadre, resident, neighbour,
#    unit; 密码 password: gongjian-demo
# 2. 登录成功后，令牌自动填入 Headers 面板，之后的请求都带着它：
#    After a login the token goes into the Headers pane, and every request carries it:
#      {"Authorization": "Bearer <token>"}
#    退出 Log out: 清空 Headers 面板 empty the Headers pane.
# 3. 然后试试 Then try:  query Viewer { viewer { username roles { role scope { name } } } }
#    左侧 Docs 和 Explorer 列出全部字段 Docs and Explorer (left) list every field.
#
# 快捷键 Keys: Ctrl-Enter 运行 run · Ctrl-Space 补全 complete · Shift-Ctrl-P 整理 prettify

"""
    + LOGIN
)
LOGIN_VARIABLES: Final = '{\n  "username": "admin",\n  "password": ""\n}'

# strawberry's page -> ours: each piece must be found exactly once
_FETCHER = """      const fetcher = GraphiQL.createFetcher({
        url: fetchURL,
        headers: defaultHeaders,
        subscriptionUrl,
      });
"""
_SIGNING_FETCHER = """      const graphiqlFetcher = GraphiQL.createFetcher({
        url: fetchURL,
        headers: defaultHeaders,
        subscriptionUrl,
      });
      // a login's token goes into the headers pane (gongjian)
      let onToken = function () {};
      function watch(result) {
        [].concat(result).forEach(function (part) {
          const login = part && part.data && part.data.login;
          if (login && typeof login.token === "string") onToken(login.token);
        });
      }
      function fetcher(params, options) {
        // a promise of one result, or of an async iterable of results (GraphiQL's multipart fetcher)
        return Promise.resolve(graphiqlFetcher(params, options)).then(function (answer) {
          if (answer && typeof answer[Symbol.asyncIterator] === "function") {
            return (async function* () {
              for await (const part of answer) {
                watch(part);
                yield part;
              }
            })();
          }
          watch(answer);
          return answer;
        });
      }
"""
_COMPONENT = """      function GraphiQLWithExplorer() {
"""
_HEADERS_STATE = """        const [headers, setHeaders] = React.useState(parameters.headers);
"""
_SIGNING_HEADERS_STATE = """        // the headers pane outlives the page (a new page or tab starts signed in)
        const [headers, setHeaders] = React.useState(parameters.headers || remembered());
        onToken = function (token) {
          const signed = JSON.stringify({ Authorization: "Bearer " + token }, null, 2);
          remember(signed);
          setHeaders(signed);
        };
"""
_EDIT_HEADERS = """        function onEditHeaders(newHeaders) {
          setHeaders(newHeaders);
"""
_REMEMBER_HEADERS = """        function onEditHeaders(newHeaders) {
          setHeaders(newHeaders);
          remember(newHeaders);
"""
_STORAGE = """      function remember(headers) {
        try {
          localStorage.setItem("gongjian:headers", headers || "");
        } catch (e) {}
      }
      function remembered() {
        try {
          return localStorage.getItem("gongjian:headers") || undefined;
        } catch (e) {
          return undefined;
        }
      }
"""
_VARIABLES_STATE = """        const [variables, setVariables] = React.useState(
          parameters.variables,
        );
"""
_LOGIN_VARIABLES_STATE = """        const [variables, setVariables] = React.useState(
          parameters.variables || (parameters.q ? undefined : LOGIN_VARIABLES),
        );
"""


def installed(folder: Path = ASSETS) -> bool:
    return all((folder / local).is_file() for local in FILES.values())


def _replace_once(html: str, old: str, new: str) -> str:
    if html.count(old) != 1:
        raise RuntimeError(f"strawberry's GraphiQL page changed near {old.strip()[:40]!r}: update gongjian/graphiql.py")
    return html.replace(old, new)


def _welcome(html: str) -> str:
    start = html.find("const EXAMPLE_QUERY = `")
    end = html.find("`;", start)
    if start < 0 or end < 0:
        raise RuntimeError("strawberry's GraphiQL page has no EXAMPLE_QUERY: update gongjian/graphiql.py")
    constants = (
        f"const EXAMPLE_QUERY = {json.dumps(WELCOME, ensure_ascii=False)};\n"
        f"      const LOGIN_VARIABLES = {json.dumps(LOGIN_VARIABLES)};"
    )
    html = html[:start] + constants.replace("</", "<\\/") + html[end + 2 :]
    html = _replace_once(html, "<title>Strawberry GraphiQL</title>", "<title>共建 Gongjian · GraphiQL</title>")
    html = _replace_once(html, _FETCHER, _SIGNING_FETCHER)
    html = _replace_once(html, _HEADERS_STATE, _SIGNING_HEADERS_STATE)
    html = _replace_once(html, _EDIT_HEADERS, _REMEMBER_HEADERS)
    html = _replace_once(html, _COMPONENT, _STORAGE + _COMPONENT)
    return _replace_once(html, _VARIABLES_STATE, _LOGIN_VARIABLES_STATE)


def page(folder: Path = ASSETS) -> str:
    """strawberry's GraphiQL page with our welcome, loading its files from the app when
    they are installed."""
    html = _welcome(get_graphql_ide_html("graphiql"))
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
