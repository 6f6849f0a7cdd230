"""Messages in the reader's language, from gettext catalogs (`resolvers/locale`).

Message ids are the English messages as written where they are raised, with `{name}`
parameters (see `gongjian.message_extraction`). A message reaches the client already
formatted, so it is translated where errors are turned into responses (`UserError.message`,
GraphQL errors in `observability.process_errors`, notification texts): an exact id is looked
up, otherwise the message is matched against the ids with parameters and the values are put
into the translation. Codes never change with the language; a message without an id stays
as it is. The catalogs are compiled at build time (`pybabel compile`, see the README); a
missing `.mo` falls back to reading the `.po` (and says so in the log)."""

from __future__ import annotations

import functools
import gettext
import logging
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any, Final

log = logging.getLogger("gongjian.translation")

DOMAIN: Final = "gongjian"
# served language -> catalog folder
CATALOGS: Final = {"zh-CN": "zh_CN", "en": "en"}
DEFAULT: Final = "zh-CN"
_PARAMETER: Final = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def locale_dir() -> Any:
    return resources.files("resolvers") / "locale"


@functools.cache
def catalog(language: str) -> dict[str, str]:
    """msgid -> msgstr of the language's catalog (empty translations left out)."""
    folder = locale_dir() / CATALOGS[language] / "LC_MESSAGES"
    compiled = folder / f"{DOMAIN}.mo"
    if compiled.is_file():
        with compiled.open("rb") as mo:
            translations = gettext.GNUTranslations(mo)
        entries: dict[str, str] = dict(translations._catalog)  # type: ignore[attr-defined]
    else:
        from babel.messages.pofile import read_po

        log.warning("message catalog not compiled; reading the .po", extra={"fields": {"language": language}})
        with (folder / f"{DOMAIN}.po").open("rb") as po:
            entries = {str(m.id): str(m.string) for m in read_po(po) if m.id and isinstance(m.id, str)}
    return {k: v for k, v in entries.items() if k and v}


def _pattern(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    position = 0
    seen: set[str] = set()
    for match in _PARAMETER.finditer(template):
        parts.append(re.escape(template[position : match.start()]))
        name = match.group(1)
        if name is None:
            parts.append(re.escape(match.group(0)[0]))
        elif name in seen:
            parts.append(f"(?P={name})")
        else:
            seen.add(name)
            parts.append(f"(?P<{name}>.+?)")
        position = match.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts), re.DOTALL)


@functools.cache
def _templates(language: str) -> list[tuple[re.Pattern[str], str]]:
    """The ids with parameters, the most specific (longest literal text) first."""
    with_parameters = [k for k in catalog(language) if _PARAMETER.search(k) and "{" in k.replace("{{", "")]
    with_parameters.sort(key=lambda k: -len(_PARAMETER.sub("", k)))
    return [(_pattern(k), catalog(language)[k]) for k in with_parameters]


def _fill(template: str, values: Mapping[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]
        return str(values.get(name, match.group(0)))

    return _PARAMETER.sub(value, template)


@functools.lru_cache(maxsize=4096)
def translate(message: str, language: str = DEFAULT) -> str:
    """`message` (English, formatted) in `language`; unchanged when it has no id."""
    if language not in CATALOGS:
        language = DEFAULT
    entries = catalog(language)
    exact = entries.get(message)
    if exact is not None:
        return exact
    for pattern, translated in _templates(language):
        match = pattern.fullmatch(message)
        if match is not None:
            return _fill(translated, match.groupdict())
    return message


def translate_template(template: str, values: Mapping[str, Any], language: str = DEFAULT) -> str:
    """A message id with parameters, translated, then filled with `values`."""
    if language not in CATALOGS:
        language = DEFAULT
    return _fill(catalog(language).get(template, template), values)


LANGUAGES: Final = ("zh-CN", "en")


def language_of(accept_language: str | None) -> str:
    """The served language `Accept-Language` prefers most: English when asked for before
    any Chinese, otherwise Chinese (also when nothing is asked)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, rest = part.strip().partition(";")
        quality = 1.0
        if rest.strip().startswith("q="):
            try:
                quality = float(rest.strip()[2:])
            except ValueError:
                quality = 0.0
        tag = tag.strip().lower()
        if tag.startswith("en"):
            ranked.append((-quality, index, "en"))
        elif tag.startswith("zh") or tag == "*":
            ranked.append((-quality, index, "zh-CN"))
    ranked = [r for r in ranked if r[0] < 0]
    return min(ranked)[2] if ranked else "zh-CN"
