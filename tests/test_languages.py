"""Messages in Chinese by default and in English on request; codes never change with the
language; every message id has both translations, and the compiled catalogs are current."""

from __future__ import annotations

import gettext
import re
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from gongjian.translation import language_of
from resolvers import ids
from tests import builders
from tests.support import REPO, Api

LOCALES = REPO / "resolvers" / "locale"
PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _extracted() -> set[str]:
    """Every message id in the code, extracted with Babel as `pybabel extract -F babel.cfg` does."""
    with (REPO / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]  # Babel has no hints here
    return {str(message) for _, _, message, *_ in extract_from_dir(str(REPO), method_map, options_map) if message}


def _catalog(folder: str) -> dict[str, str]:
    with (LOCALES / folder / "LC_MESSAGES" / "gongjian.po").open("rb") as po:
        return {str(m.id): str(m.string) for m in read_po(po) if m.id}


def test_every_message_id_has_both_translations() -> None:
    found = _extracted()
    assert len(found) > 150  # the extractor sees the code's messages
    for folder in ("zh_CN", "en"):
        translations = _catalog(folder)
        missing = sorted(found - {k for k, v in translations.items() if v})
        assert not missing, f"{folder}: add translations for {missing} (README: Languages)"
        for msgid in found:
            assert set(PARAMETER.findall(msgid)) == set(PARAMETER.findall(translations[msgid])), (folder, msgid)
    chinese = _catalog("zh_CN")
    assert all(CJK.search(chinese[m]) for m in found), "every Chinese translation is Chinese"


def test_the_compiled_catalogs_are_the_sources() -> None:
    for folder in ("zh_CN", "en"):
        compiled = LOCALES / folder / "LC_MESSAGES" / "gongjian.mo"
        assert compiled.is_file(), "compile the catalogs: pybabel compile -d resolvers/locale -D gongjian"
        with compiled.open("rb") as mo:
            table = dict(gettext.GNUTranslations(mo)._catalog)  # type: ignore[attr-defined]
        assert {k: v for k, v in table.items() if k} == {k: v for k, v in _catalog(folder).items() if v}


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "zh-CN"),
        ("zh-CN", "zh-CN"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("zh-TW;q=0.5, en;q=0.8", "en"),
        ("fr-FR", "zh-CN"),
        ("en;q=0", "zh-CN"),
        ("garbage;;q=x", "zh-CN"),
    ],
)
def test_the_language_asked_for(header: str | None, language: str) -> None:
    assert language_of(header) == language


async def _answers(api: Api, w: builders.World, language: str | None) -> list[tuple[str, str]]:
    """(code, message) of refusals of every kind: userErrors, GraphQL errors (arguments,
    permissions, authentication) and a refusal with parameters."""
    api.language = language
    resident = api.token_for(w.users["resident"])
    placed = await api.op(
        "PlaceOrder",
        {"householdId": ids.encode("Household", w.household), "title": "  ", "category": "REPAIR"},
        token=resident,
    )
    found = [(e["code"], e["message"]) for e in placed["data"]["placeOrder"]["userErrors"]]
    for query, variables, token in (
        ("query($n: Int) { serviceOrders(first: $n) { totalCount } }", {"n": 500}, resident),
        ("{ auditLog { totalCount } }", {}, resident),
        ("{ serviceOrders { totalCount } }", {}, None),
    ):
        result = await api.post(query, variables, token=token)
        found += [(e["extensions"]["code"], e["message"]) for e in result["errors"]]
    login = await api.op("Login", {"username": "nobody", "password": "wrong-password"})
    found += [(e["code"], e["message"]) for e in login["data"]["login"]["userErrors"]]
    return found


async def test_messages_follow_accept_language_and_codes_do_not(api: Api, conn: asyncpg.Connection) -> None:
    w = await builders.world(conn)
    await builders.service_categories(conn)
    default = await _answers(api, w, None)
    chinese = await _answers(api, w, "zh-CN")
    english = await _answers(api, w, "en-US,en;q=0.9")
    assert [c for c, _ in default] == [c for c, _ in chinese] == [c for c, _ in english]
    assert [c for c, _ in english] == [
        "INVALID",
        "BAD_USER_INPUT",
        "FORBIDDEN",
        "UNAUTHENTICATED",
        "INVALID_CREDENTIALS",
    ]
    assert default == chinese
    assert [m for _, m in english] == [
        "`title` must not be blank",
        "`first` must be between 0 and 100, got 500",
        "You may not see or do this",
        "Sign in first: this needs a valid bearer token",
        "Unknown username or wrong password",
    ]
    assert [m for _, m in chinese] == [
        "`title` 不能为空",
        "`first` 必须在 0 到 100 之间，收到的是 500",
        "您无权查看或执行此操作",
        "请先登录：需要有效的访问令牌",
        "用户名或密码错误",
    ]


async def test_notifications_read_in_the_readers_language(api: Api, conn: asyncpg.Connection) -> None:
    w = await builders.world(conn)
    await builders.service_categories(conn)
    order = await builders.service_order(conn, w, placed_by="staff")
    number = await conn.fetchval("SELECT number FROM service_orders WHERE id = $1", order)
    texts: dict[str | None, Any] = {}
    for language in (None, "en"):
        api.language = language
        inbox = await api.op("MyNotifications", {}, token=api.token_for(w.users["resident"]))
        texts[language] = inbox["data"]["viewer"]["notifications"]["edges"][0]["node"]
    assert texts[None]["title"] == "订单已提交" and texts["en"]["title"] == "Order placed"
    assert texts[None]["body"] == f"已为您家提交订单 {number}（水管漏水）"
    assert texts["en"]["body"] == f"Order {number} (水管漏水) was placed for your household"
    assert texts[None]["kind"] == texts["en"]["kind"] == "ORDER_UPDATED"


def test_the_catalogs_ship_with_the_package() -> None:
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert "locale/*/LC_MESSAGES/*.mo" in pyproject
    assert "pybabel compile -d resolvers/locale -D gongjian" in (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "pybabel -q compile -d resolvers/locale -D gongjian" in Path(REPO / "dev").read_text(encoding="utf-8")
