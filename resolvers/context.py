"""The request context: database, viewer, per-operation DataLoaders, request id."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from db import identity
from db.pool import Database
from gongjian import tokens
from gongjian.config import Settings
from resolvers.viewer import Grant, Role, Viewer

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

BatchFn = Callable[["Context", list[K]], Awaitable[list[V]]]


@dataclass
class Context:
    db: Database
    settings: Settings
    request_id: str
    viewer: Viewer | None = None
    # a session token whose signature holds but whose account the database has not been asked
    # about yet: the compiled path asks within its one statement, `sign_in` asks otherwise
    unchecked: tokens.TokenClaims | None = None
    request: Request | WebSocket | None = None
    response: Response | None = None
    # graphql-transport-ws: the `connection_init` payload (strawberry sets it; on_ws_connect reads it)
    connection_params: dict[str, Any] | None = None
    # the language of messages: `Accept-Language` (or a subscription's `language`), Chinese by default
    language: str = "zh-CN"
    # which path answered the operation: `resolvers` (graphql-core) or `compiled` (one SQL statement)
    execution_path: str = "resolvers"
    # the document (text, operation name, parsed) the compiled path answered, which
    # gongjian/compiled_http.py may then answer by itself
    compiled_document: tuple[str, str | None, Any] | None = None
    _loaders: dict[Any, DataLoader[Any, Any]] = field(default_factory=dict)

    def loader(self, batch: BatchFn[K, V]) -> DataLoader[K, V]:
        """The DataLoader of this operation for `batch`, which answers keys in order."""
        existing = self._loaders.get(batch)
        if existing is None:

            async def load(keys: list[K]) -> list[V]:
                return await batch(self, keys)

            existing = DataLoader(load_fn=load)
            self._loaders[batch] = existing
        return existing

    def forget_loaded(self) -> None:
        """Drop the DataLoaders (and what they cached): a WebSocket's context lives for the
        whole connection, so a subscription calls this before each event, and the event's
        nested fields read the data as it is now."""
        self._loaders = {}

    def for_operation(self) -> Context:
        """A copy with fresh DataLoaders, for each operation of a long-lived WebSocket."""
        return dataclasses.replace(self, _loaders={})

    async def sign_in(self) -> None:
        """Ask the database who the session token's account is (before anything reads
        `viewer`): no viewer when it is disabled or its tokens were revoked since."""
        claims, self.unchecked = self.unchecked, None
        if claims is not None:
            self.viewer = await viewer_of_claims(self.db, claims)

    @property
    def signed_in(self) -> Viewer:
        """The viewer of a field that requires authentication (checked by its permission)."""
        assert self.viewer is not None, "an authenticated field ran without a viewer"
        return self.viewer


ResolverInfo = Info[Context, Any]


async def viewer_from_token(db: Database, settings: Settings, token: str | None) -> Viewer | None:
    """The viewer a bearer token stands for; None when there is no valid token."""
    if token and token.isascii() and token.startswith(tokens.API_TOKEN_PREFIX):
        return await viewer_of_api_token(db, token)
    claims = session_claims(settings, token)
    return None if claims is None else await viewer_of_claims(db, claims)


async def viewer_of_api_token(db: Database, token: str) -> Viewer | None:
    """The viewer an API token stands for (its use is recorded): None when it is unknown,
    revoked, or its creator may no longer issue it."""
    async with db.connection() as conn:
        use = await identity.use_api_token(conn, tokens.hash_api_token(token))
    if use is None:
        return None
    return Viewer(
        user_id=use.created_by,
        username=use.creator_username or f"api-token-{use.id}",
        county_id=use.county_id,
        person_id=None,
        grants=(Grant(id=0, role=Role.UNIT_ADMIN, organisation_id=use.organisation_id),),
        api_token_id=use.id,
    )


BASE_URLS_MAX = 256
_base_urls: dict[tuple[Any, ...], str] = {}


def base_url(request: Request | WebSocket) -> str:
    """The request's base URL as starlette gives it (`request.base_url`), built once per
    scheme, host, server address and root path rather than once per request."""
    scope = request.scope
    server = scope.get("server")
    key = (
        scope.get("scheme", "http"),
        request.headers.get("host"),  # the header starlette's URL reads
        tuple(server) if server else None,
        scope.get("app_root_path", scope.get("root_path", "")),
    )
    found = _base_urls.get(key)
    if found is None:
        if len(_base_urls) >= BASE_URLS_MAX:  # hosts are the client's to choose: kept bounded
            _base_urls.clear()
        found = _base_urls[key] = str(request.base_url)
    return found


def session_claims(settings: Settings, token: str | None) -> tokens.TokenClaims | None:
    """The claims of a good session token (signed by us, not expired, for signing in), before
    the database says whether its account still holds them; None for anything else."""
    if not token or not token.isascii() or token.startswith(tokens.API_TOKEN_PREFIX):
        return None
    claims = tokens.verify(tokens.secrets_of(settings), token)
    if claims is None or claims.purpose is not None:  # a password-change token signs nobody in
        return None
    return claims


async def viewer_of_claims(db: Database, claims: tokens.TokenClaims) -> Viewer | None:
    """The viewer a good session token stands for: its account if enabled and its tokens of
    that generation are still good (a password change or disabling revokes them)."""
    async with db.connection() as conn:
        user = await identity.user_with_grants(conn, claims.user_id, claims.generation)
    return None if user is None else viewer_of(user)


def viewer_of(user: identity.UserRow) -> Viewer:
    """The viewer a signed-in user (with the grants it holds) stands for."""
    return Viewer(
        user_id=user.id,
        username=user.username,
        county_id=user.county_id,
        person_id=user.person_id,
        household_id=user.household_id,
        grants=tuple(
            Grant(id=g.id, role=Role(g.role), area_id=g.area_id, organisation_id=g.organisation_id) for g in user.grants
        ),
        last_login_at=user.last_login_at,
    )
