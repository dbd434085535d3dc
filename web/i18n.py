"""The pages' language: English or Russian, chosen per user, every user-facing string translatable.

Strings are written in English in the templates (``{{ _("Log in") }}``), in the scripts
(``t("Connecting…")`` from ``static/i18n.js``) and in the web layer's own messages
(``gettext("...")``, or ``N_("...")`` where a constant is defined and ``gettext`` where it is shown);
placeholders are ``%(name)s``, so a translation can put them in any order. The Russian catalogue
``locales/ru.json`` maps each message to its translation (a list of three forms for plurals: one,
few, many). Tests extract every message from the templates, the scripts and the web modules and
fail on one the catalogue lacks, and on English typed into a template outside ``_()``, so nothing
reaches a Russian-speaking user in English by accident.

The language of a request is the user's own choice (``app_user.locale``, set by the header's switch),
else the browser's ``Accept-Language``, else ``web.default_locale``; it lives in a context variable
that ``locale_middleware`` sets per request and ``auth.current_user`` overrides with the user's choice.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Protocol

import jinja2
from aiohttp import web
from markupsafe import Markup

__all__ = [
    "DEFAULT_LOCALE",
    "LANGUAGE_NAMES",
    "LOCALES",
    "N_",
    "Catalogue",
    "current_locale",
    "error_message",
    "gettext",
    "locale_middleware",
    "negotiate",
    "ngettext",
    "set_locale",
    "setup_jinja",
]

LOCALES: tuple[str, ...] = ("en", "ru")
LANGUAGE_NAMES: Mapping[str, str] = {"en": "English", "ru": "Русский"}
"Each language by its own name (the switch offers them to people who may not read the current one)."
DEFAULT_LOCALE = "en"
LOCALE_DIR = Path(__file__).parent / "locales"

_locale: ContextVar[str] = ContextVar("locale", default=DEFAULT_LOCALE)
_page: ContextVar[str] = ContextVar("page", default="")
"This request's path and query when it is a page a GET can show again, else : where the switch returns."


def plural_index(locale: str, n: int) -> int:
    """Which plural form *n* takes: English one/other; Russian one/few/many (1, 2–4, 5–20 ...)."""
    if locale == "ru":
        if n % 10 == 1 and n % 100 != 11:
            return 0
        if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
            return 1
        return 2
    return 0 if n == 1 else 1


class Catalogue:
    """Translations per locale: English message -> translated text (or plural forms)."""

    def __init__(self, messages: Mapping[str, Mapping[str, str | list[str]]]) -> None:
        self._messages = messages

    @classmethod
    def load(cls, directory: Path = LOCALE_DIR) -> Catalogue:
        """Read ``<locale>.json`` and then every ``<locale>.<part>.json`` (one file per part of the UI)."""
        messages: dict[str, dict[str, str | list[str]]] = {}
        for locale in LOCALES:
            merged: dict[str, str | list[str]] = {}
            for path in [directory / f"{locale}.json", *sorted(directory.glob(f"{locale}.*.json"))]:
                if path.exists():
                    merged.update(json.loads(path.read_text(encoding="utf-8")))
            messages[locale] = merged
        return cls(messages)

    def messages(self, locale: str) -> Mapping[str, str | list[str]]:
        return self._messages.get(locale, {})

    def gettext(self, locale: str, message: str) -> str:
        found = self.messages(locale).get(message)
        return found if isinstance(found, str) and found else message

    def ngettext(self, locale: str, singular: str, plural: str, n: int) -> str:
        forms = self.messages(locale).get(singular)
        if isinstance(forms, list) and forms:
            return forms[min(plural_index(locale, n), len(forms) - 1)]
        return singular if n == 1 else plural


CATALOGUE = Catalogue.load()


def current_locale() -> str:
    return _locale.get()


def set_locale(locale: str | None) -> None:
    """Use *locale* for the rest of this request (ignored unless it is one we have)."""
    if locale in LOCALES:
        _locale.set(locale)


def N_(message: str) -> str:
    """Mark *message* for the catalogue where it is defined; ``gettext`` translates it where it is shown."""
    return message


def gettext(message: str, **values: object) -> str:
    """Translate a web-layer message into the request's language; ``%(name)s`` placeholders filled.

    Always formatted, as the templates' ``_()`` is: a literal percent sign is written ``%%``.
    """
    return CATALOGUE.gettext(current_locale(), message) % values


def ngettext(singular: str, plural: str, n: int, **values: object) -> str:
    """The form of a message for *n* in the request's language; ``%(num)s`` is *n*."""
    text = CATALOGUE.ngettext(current_locale(), singular, plural, n)
    return text % {"num": n, **values}


# Domain errors (cti, crm_core) speak English, with their facts in ``details()``; those a page shows
# the user are rephrased here by ``error_id``. The English text is each error's own str(), which
# also fills ``%(reason)s`` when the details have no reason (the PBX's own words, shown as data).
_DOMAIN_ERRORS: Mapping[str, str] = {
    "no-such-call": N_("No such call: %(call_id)s"),
    "pbx-action-failed": N_("The PBX refused %(action)s: %(reason)s"),
    "pbx-unavailable": N_("The PBX is unavailable: %(reason)s"),
    "forbidden": N_("You may not %(action)s this %(entity)s"),
}


class DomainError(Protocol):
    error_id: str

    def details(self) -> Mapping[str, object]: ...


def error_message(error: DomainError) -> str:
    """*error*'s message in the request's language: translated when we know its kind, else its own."""
    template = _DOMAIN_ERRORS.get(error.error_id)
    if template is None or not CATALOGUE.messages(current_locale()).get(template):
        return str(error)
    try:
        return CATALOGUE.gettext(current_locale(), template) % {"reason": str(error), **error.details()}
    except (KeyError, TypeError, ValueError):  # details without the placeholder: say it as raised
        return str(error)


def negotiate(accept_language: str, default: str = DEFAULT_LOCALE) -> str:
    """The first language of ``Accept-Language`` (by weight) that we have, else *default*."""
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, *params = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0  # unreadable: treat as "not this one"
        language = tag.lower().split("-")[0]
        if language in LOCALES and weight > 0:
            choices.append((-weight, position, language))
    return min(choices)[2] if choices else default


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def locale_middleware(default: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Start each request in the browser's language; a logged-in user's own choice overrides it."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        set_locale(negotiate(request.headers.get("Accept-Language", ""), default))
        _page.set(request.path_qs if request.method == "GET" else "")
        response = await handler(request)
        response.headers.setdefault("Content-Language", current_locale())
        return response

    return middleware


def _js_messages() -> Markup:
    """The current locale's catalogue as JSON for ``static/i18n.js`` (a data block, never executed)."""
    data = json.dumps(CATALOGUE.messages(current_locale()), ensure_ascii=False, sort_keys=True)
    # Safe as markup: with <, > and & escaped no text can close the <script> block or start a tag.
    return Markup(data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))  # noqa: S704


def setup_jinja(env: jinja2.Environment) -> None:
    """Give templates ``_``/``gettext``/``ngettext``, ``current_locale()``, the scripts' catalogue
    (``js_messages()``), the languages with their names, and ``switch_return_to()``: the page the
    language switch comes back to (this one after a GET; after a POST the start page)."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: CATALOGUE.gettext(current_locale(), message),
        lambda singular, plural, n: CATALOGUE.ngettext(current_locale(), singular, plural, n),
        newstyle=True,
    )
    env.globals["current_locale"] = current_locale
    env.globals["switch_return_to"] = _page.get
    env.globals["js_messages"] = _js_messages
    env.globals["LOCALES"] = LOCALES
    env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
