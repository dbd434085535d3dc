"""English and Russian pages: plural forms, language negotiation, the user's own choice, and a
catalogue that covers every message of every template, script and web-layer error.

The completeness tests read the real sources: a message added anywhere without its Russian entry,
or English text typed into a template outside ``_()``, fails here with the file and the text.
"""

from __future__ import annotations

import ast
import contextvars
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import pytest
from sqlalchemy import select

from config.settings import load_settings
from crm_core.models import User
from cti.errors import NoSuchCall, PbxUnavailable
from web import cli, i18n, keys
from web.app import create_app

from .browser import Browser
from .conftest import fake_pbx_factory
from .fakes import inbound, ringing
from .test_cli import _config, _no_cached_logging, user  # noqa: F401  (fixtures for the CLI test)

WEB = Path(i18n.__file__).parent
TEMPLATES = WEB / "templates"
SCRIPTS = WEB / "static"
RU = i18n.Catalogue.load().messages("ru")
"ru.json and every ru.<part>.json, merged as the app loads them."

NOT_TRANSLATED = frozenset({"CTI"})
"The product's name: the same in every language, so templates may show it as it is."


def in_locale(locale: str, work: Callable[[], Any]) -> Any:
    """Run *work* with *locale* as the request's language, leaving this thread's context alone."""

    def run() -> Any:
        i18n.set_locale(locale)
        return work()

    return contextvars.copy_context().run(run)


async def set_user_locale(app, user_id: int, locale: str | None) -> None:
    async with app[keys.DB]() as db:
        (await db.get(User, user_id)).locale = locale
        await db.commit()


async def stored_locale(app, user_id: int) -> str | None:
    async with app[keys.DB]() as db:
        return await db.scalar(select(User.locale).where(User.id == user_id))


# Extraction ---------------------------------------------------------------------------------------


def template_files() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


def script_files() -> list[Path]:
    return sorted(SCRIPTS.glob("*.js"))


def template_messages() -> dict[str, tuple[bool, str]]:
    """Every ``_``/``gettext``/``ngettext`` message in the templates: msgid -> (plural?, where)."""
    env = jinja2.Environment(extensions=["jinja2.ext.i18n"], autoescape=True)  # as the app's
    found: dict[str, tuple[bool, str]] = {}
    for path in template_files():
        for line, function, message in env.extract_translations(path.read_text(encoding="utf-8")):
            strings = [message] if isinstance(message, str) else [m for m in message if isinstance(m, str)]
            assert strings, f"{path.name}:{line}: {function}() without a literal message"
            found.setdefault(strings[0], (function == "ngettext", f"{path.relative_to(WEB)}:{line}"))
    return found


_JS_STRING = r'"((?:[^"\\\n]|\\.)*)"'
_JS_CALL = re.compile(rf"(?<![\w.$])(n?t)\(\s*{_JS_STRING}")


def script_messages() -> dict[str, tuple[bool, str]]:
    """Every ``t("...")`` and ``nt("...", "...", n)`` in the page scripts: msgid -> (plural?, where)."""
    found: dict[str, tuple[bool, str]] = {}
    for path in script_files():
        source = path.read_text(encoding="utf-8")
        for match in _JS_CALL.finditer(source):
            line = source.count("\n", 0, match.start()) + 1
            message = json.loads(f'"{match.group(2)}"')
            found.setdefault(message, (match.group(1) == "nt", f"{path.relative_to(WEB)}:{line}"))
    return found


_PY_FUNCTIONS = {"gettext": False, "N_": False, "ngettext": True}


def python_messages() -> dict[str, tuple[bool, str]]:
    """Every literal given to ``i18n.gettext``/``ngettext``/``N_`` in the web package's modules."""
    found: dict[str, tuple[bool, str]] = {}
    for path in sorted(WEB.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            if name not in _PY_FUNCTIONS or not node.args:
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.setdefault(first.value, (_PY_FUNCTIONS[name], f"{path.relative_to(WEB)}:{node.lineno}"))
    return found


def all_messages() -> dict[str, tuple[bool, str]]:
    return {**python_messages(), **script_messages(), **template_messages()}


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_VISIBLE_ATTRIBUTE = re.compile(r"""\b(placeholder|title|alt|aria-label)\s*=\s*("[^"]*"|'[^']*')""", re.I)
_JINJA = re.compile(
    r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}|<!--.*?-->|\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.S
)
_TAG = re.compile(r"<[^>]*>", re.S)
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-f]+|\w+);", re.I)
_ATTRIBUTE = re.compile(r"""[\w:-]+\s*=\s*("[^"]*"|'[^']*')""")
"Attributes a macro writes into a tag of its caller (outside any ``<...>`` in its own source)."
_WORD = re.compile(r"[^\W\d_][^\s<>{}]*")


def untranslated_text(source: str) -> list[str]:
    """Words a template shows as typed: outside ``{{ }}``/``{% %}``/``{# #}``, tags and entities,
    and in the attributes people read (placeholder, title, alt, aria-label)."""
    words: list[str] = []
    for _name, value in _VISIBLE_ATTRIBUTE.findall(source):
        words += _WORD.findall(_JINJA.sub(" ", value[1:-1]))
    text = _ATTRIBUTE.sub(" ", _ENTITY.sub(" ", _TAG.sub(" ", _JINJA.sub(" ", source))))
    words += _WORD.findall(text)
    return [word for word in words if word not in NOT_TRANSLATED]


# Tests -------------------------------------------------------------------------------------------


class TestPluralForms:
    @pytest.mark.parametrize(
        ("n", "expected"),
        [
            (1, "1 звонок"),
            (2, "2 звонка"),
            (4, "4 звонка"),
            (5, "5 звонков"),
            (11, "11 звонков"),
            (12, "12 звонков"),
            (14, "14 звонков"),
            (21, "21 звонок"),
            (22, "22 звонка"),
            (111, "111 звонков"),
            (0, "0 звонков"),
        ],
    )
    def test_russian_one_few_many(self, n, expected):
        """
        Russian takes "звонок" after 1 and 21 (not 11), "звонка" after 2-4 (not 12-14), else "звонков".
        """
        assert expected == in_locale("ru", lambda: i18n.ngettext("%(num)s call", "%(num)s calls", n))

    @pytest.mark.parametrize(
        ("n", "expected"), [(1, "1 call"), (2, "2 calls"), (0, "0 calls"), (21, "21 calls")]
    )
    def test_english_one_other(self, n, expected):
        """
        English has only singular and plural, and needs no catalogue for either.
        """
        assert expected == in_locale("en", lambda: i18n.ngettext("%(num)s call", "%(num)s calls", n))

    def test_templates_pluralise_the_same_way(self):
        """
        ``ngettext`` in a template picks the Russian form and fills ``num`` itself.
        """
        env = jinja2.Environment(autoescape=True)
        i18n.setup_jinja(env)
        page = env.from_string('{{ ngettext("%(num)s call", "%(num)s calls", n) }}')

        rendered = [in_locale("ru", lambda n=n: page.render(n=n)) for n in (1, 3, 11, 21)]

        assert ["1 звонок", "3 звонка", "11 звонков", "21 звонок"] == rendered

    def test_percent_signs(self):
        """
        ``%%`` is a percent sign in Python messages as in templates, with or without values.
        """
        env = jinja2.Environment(autoescape=True)
        i18n.setup_jinja(env)

        assert "100% sure" == in_locale("ru", lambda: i18n.gettext("100%% sure"))
        assert "100% sure" == in_locale("en", lambda: env.from_string('{{ _("100%% sure") }}').render())
        assert "100% of 3" == in_locale("en", lambda: i18n.gettext("100%% of %(n)s", n=3))

    def test_a_missing_message_stays_english(self):
        """
        A message the catalogue lacks is shown in English rather than as nothing.
        """
        assert "No such message 1" == in_locale("ru", lambda: i18n.gettext("No such message %(x)s", x=1))


class TestNegotiation:
    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"),
            ("en-US,en;q=0.9,ru;q=0.8", "en"),
            ("de-DE, en;q=0.3, ru;q=0.7", "ru"),
            ("ru;q=0.5, en;q=0.5", "ru"),
            ("en;q=0.5, ru;q=0.5", "en"),
            ("ru;q=0, en;q=0.1", "en"),
            ("RU", "ru"),
            ("fr, de", "en"),
            ("ru;q=oops, en", "en"),
            ("ru-RU;level=1;q=0.2, en; q=0.5", "en"),
            ("en;q=0.1, ru ; Q=0.9", "ru"),
            ("", "en"),
        ],
    )
    def test_by_weight_then_order(self, header, expected):
        """
        The highest-weighted language we have wins, the earlier one on a tie; q=0 means "not this".
        """
        assert expected == i18n.negotiate(header, "en")

    def test_default_when_the_browser_names_none_of_ours(self):
        """
        Without a language we have, the server's default applies.
        """
        assert "ru" == i18n.negotiate("fr-FR, de;q=0.5", "ru")

    async def test_the_login_page_follows_the_browser(self, client):
        """
        A Russian browser gets the login form in Russian, marked ``lang="ru"`` and Content-Language ru.
        """
        response = await client.get("/login", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
        html = await response.text()

        assert "ru" == response.headers["Content-Language"]
        assert '<html lang="ru">' in html
        assert "<h1>Войти</h1>" in html
        assert "Пароль" in html

    async def test_an_english_browser_gets_english(self, client):
        """
        An English browser gets English, with no Russian text on the page.
        """
        response = await client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
        html = await response.text()

        assert "en" == response.headers["Content-Language"]
        assert '<html lang="en">' in html
        assert "<h1>Log in</h1>" in html
        assert not re.search("[а-яА-Я]", html.replace("Русский", ""))

    async def test_the_configured_default_without_a_header(self, aiohttp_client, settings):
        """
        ``web.default_locale: ru`` serves Russian to a browser that sends no Accept-Language.
        """
        russian = settings.model_copy(
            update={"web": settings.web.model_copy(update={"default_locale": "ru"})}
        )
        client = await aiohttp_client(create_app(russian, pbx_factory=fake_pbx_factory))

        html = await (await client.get("/login")).text()

        assert '<html lang="ru">' in html

    def test_the_default_is_set_from_the_environment(self, tmp_path):
        """
        CTI_WEB_DEFAULT_LOCALE overrides the file; another language is refused by name.
        """
        path = tmp_path / "cti.yaml"
        path.write_text("web: {default_locale: en}\n", encoding="utf-8")

        assert "ru" == load_settings(path, {"CTI_WEB_DEFAULT_LOCALE": "ru"}).web.default_locale
        with pytest.raises(Exception, match="default_locale"):
            load_settings(path, {"CTI_WEB_DEFAULT_LOCALE": "de"})


class TestUsersOwnChoice:
    async def test_the_users_choice_beats_the_browser(self, client, app, template):
        """
        ivanov chose Russian: his agent page is Russian although his browser asks for English.
        """
        await set_user_locale(app, template.users["ivanov"], "ru")
        browser = Browser(client, template.users["ivanov"])

        response = await browser.client.get("/agent", headers={**browser.cookie, "Accept-Language": "en"})
        html = await response.text()

        assert "ru" == response.headers["Content-Language"]
        assert '<html lang="ru">' in html
        assert "<h1>Добавочный 101</h1>" in html
        assert "Ivan Ivanov (ivanov), доб. 101" in html

    async def test_no_choice_follows_the_browser(self, client, app, template):
        """
        A user who chose nothing gets the browser's language.
        """
        browser = Browser(client, template.users["petrov"])

        ru = await (
            await browser.client.get("/agent", headers={**browser.cookie, "Accept-Language": "ru"})
        ).text()
        en = await (
            await browser.client.get("/agent", headers={**browser.cookie, "Accept-Language": "en"})
        ).text()

        assert "<h1>Добавочный 102</h1>" in ru
        assert "<h1>Extension 102</h1>" in en

    async def test_the_scripts_catalogue_is_in_the_page(self, client, app, template):
        """
        A Russian page carries the scripts' messages as a JSON data block that cannot close the tag.
        """
        await set_user_locale(app, template.users["ivanov"], "ru")
        html = await (await Browser(client, template.users["ivanov"]).get("/agent")).text()

        block = re.search(r'<script type="application/json" id="i18n-messages">(.*?)</script>', html, re.S)
        assert block is not None
        messages = json.loads(block.group(1))
        assert "Входящий звонок" == messages["Incoming call"]
        assert ["%(num)s звонок", "%(num)s звонка", "%(num)s звонков"] == messages["%(num)s call"]
        assert (
            html.index('id="i18n-messages"') < html.index("/static/i18n.js") < html.index("/static/agent.js")
        )

    async def test_web_layer_errors_in_the_users_language(self, client, app, template):
        """
        The board's refusal and a call-control error come in Russian for a Russian user.
        """
        await set_user_locale(app, template.users["ivanov"], "ru")
        await set_user_locale(app, template.users["boss"], "ru")

        board = await Browser(client, template.users["ivanov"]).get("/supervisor")
        dial = await Browser(client, template.users["boss"]).post_json("/calls/dial", {"number": "101"})

        assert (403, "Монитор звонков доступен только супервизорам и администраторам") == (
            board.status,
            await board.text(),
        )
        assert (409, "Вам не назначен добавочный номер") == (dial.status, (await dial.json())["message"])

    async def test_call_control_errors_from_the_pbx_side_in_russian(self, client, app, template):
        """
        A domain error (no such call) is rephrased in Russian, with its facts; English keeps its own text.
        """
        await set_user_locale(app, template.users["ivanov"], "ru")

        ru = await Browser(client, template.users["ivanov"]).post_json("/calls/gone/hangup", {})
        en = await Browser(client, template.users["petrov"]).post_json("/calls/gone/hangup", {})

        assert (404, "Звонок gone не найден: возможно, он уже завершён") == (
            ru.status,
            (await ru.json())["message"],
        )
        assert (404, "No such call: gone") == (en.status, (await en.json())["message"])

    async def test_the_pbx_being_down_in_russian_with_its_own_reason_as_data(self, client, app, template):
        """
        Hanging up while the PBX is unreachable: a Russian user reads Russian, the PBX's own words
        after the colon; English keeps the words as raised.
        """
        await set_user_locale(app, template.users["ivanov"], "ru")
        pbx = app[keys.PBX]
        pbx.publish(inbound("u1", "+79161234567"))
        pbx.publish(ringing("u1", "101"))
        pbx.fail_with = PbxUnavailable("Asterisk did not answer Hangup within 5 s")

        ru = await Browser(client, template.users["ivanov"]).post_json("/calls/u1/hangup", {})
        await set_user_locale(app, template.users["ivanov"], "en")
        en = await Browser(client, template.users["ivanov"]).post_json("/calls/u1/hangup", {})

        assert (503, "pbx-unavailable", "АТС недоступна: Asterisk did not answer Hangup within 5 s") == (
            ru.status,
            (body := await ru.json())["error_id"],
            body["message"],
        )
        assert "Asterisk did not answer Hangup within 5 s" == (await en.json())["message"]

    def test_an_error_without_the_facts_keeps_its_own_words(self):
        """
        A known kind of error whose details lack a placeholder is shown as raised, not as a crash.
        """
        error = NoSuchCall("c1")
        error.details = lambda: {}  # type: ignore[method-assign]

        assert "No such call: c1" == in_locale("ru", lambda: i18n.error_message(error))
        assert "Звонок c1 не найден: возможно, он уже завершён" == in_locale(
            "ru", lambda: i18n.error_message(NoSuchCall("c1"))
        )

    async def test_a_wrong_password_in_russian(self, client):
        """
        The login error follows the browser's language too.
        """
        data = {"login": "ivanov", "password": "wrong"}

        html = await (await client.post("/login", data=data, headers={"Accept-Language": "ru"})).text()

        assert "Неверный логин или пароль" in html


class TestLocaleSwitch:
    async def test_the_header_offers_each_language_by_its_own_name(self, client, template):
        """
        The switch posts to /profile/locale with the CSRF token and this page as ``next``.
        """
        browser = Browser(client, template.users["ivanov"])

        html = await (await browser.get("/agent?tab=1")).text()

        form = re.search(r'<form method="post" action="/profile/locale".*?</form>', html, re.S)
        assert form is not None
        assert f'name="csrf_token" value="{browser.csrf}"' in form.group(0)
        assert 'name="next" value="/agent?tab=1"' in form.group(0)
        assert re.search(r'value="ru" lang="ru"\s*>Русский</button>', form.group(0))
        assert re.search(r'value="en" lang="en" aria-pressed="true" disabled>English</button>', form.group(0))

    async def test_choosing_russian_persists_and_goes_back(self, client, app, template):
        """
        POST locale=ru with the token: stored on the user, back to ``next``, and the next page is Russian.
        """
        browser = Browser(client, template.users["ivanov"])

        response = await client.post(
            "/profile/locale",
            data={"csrf_token": browser.csrf, "locale": "ru", "next": "/agent?tab=1"},
            headers=browser.cookie,
            allow_redirects=False,
        )
        page = await (await browser.get("/agent")).text()

        assert (303, "/agent?tab=1") == (response.status, response.headers["Location"])
        assert "ru" == await stored_locale(app, template.users["ivanov"])
        assert "<h1>Добавочный 101</h1>" in page

    async def test_without_the_csrf_token_nothing_changes(self, client, app, template):
        """
        A forged form (no token) is refused with 403 and the stored choice stays as it was.
        """
        browser = Browser(client, template.users["ivanov"])

        response = await client.post(
            "/profile/locale",
            data={"locale": "ru", "next": "/agent"},
            headers=browser.cookie,
            allow_redirects=False,
        )

        assert 403 == response.status
        assert await stored_locale(app, template.users["ivanov"]) is None

    async def test_only_a_local_next(self, client, app, template):
        """
        ``next`` pointing at another site sends the user to the start page instead.
        """
        browser = Browser(client, template.users["ivanov"])

        response = await client.post(
            "/profile/locale",
            data={"csrf_token": browser.csrf, "locale": "en", "next": "//evil.example/"},
            headers=browser.cookie,
            allow_redirects=False,
        )

        assert (303, "/agent") == (response.status, response.headers["Location"])
        assert "en" == await stored_locale(app, template.users["ivanov"])

    async def test_an_unknown_language_is_refused_by_name(self, client, app, template):
        """
        locale=de is a 400 naming the language and the choices; nothing is stored.
        """
        browser = Browser(client, template.users["ivanov"])

        response = await client.post(
            "/profile/locale",
            data={"csrf_token": browser.csrf, "locale": "de"},
            headers=browser.cookie,
            allow_redirects=False,
        )

        assert (400, 'Unknown language "de": choose one of en, ru.') == (
            response.status,
            await response.text(),
        )
        assert await stored_locale(app, template.users["ivanov"]) is None

    async def test_anonymous_users_are_sent_to_log_in(self, client):
        """
        Without a session the switch is a login redirect, not an error.
        """
        response = await client.post("/profile/locale", data={"locale": "ru"}, allow_redirects=False)

        assert (302, "/login?next=/profile/locale") == (response.status, response.headers["Location"])


class TestCliLocale:
    def test_users_add_with_a_locale(self, config, monkeypatch):
        """
        ``cti users add --locale ru`` stores the choice; without it the user has none.
        """
        monkeypatch.setenv("NEW_PW", "agent-secret")
        cli.main(["db", "upgrade", "--config", str(config)])
        common = ["--password-env", "NEW_PW", "--config", str(config)]

        assert 0 == cli.main(["users", "add", "anna", "--name", "Anna", "--locale", "ru", *common])
        assert 0 == cli.main(["users", "add", "boris", "--name", "Boris", *common])

        assert ("ru", None) == (user(config, "anna").locale, user(config, "boris").locale)


class TestCatalogueIsComplete:
    def test_the_extractors_find_messages_everywhere(self):
        """
        The extraction itself works (else "complete" would be vacuous): known messages from each source.
        """
        assert template_messages()["Log in"] == (False, "templates/login.html:2")
        assert script_messages()["Answered by %(who)s"][0] is False
        assert script_messages()["%(num)s call"][0] is True
        assert python_messages()["Wrong login or password"][0] is False
        assert {"base.html", "login.html", "agent.html", "board.html"} <= {p.name for p in template_files()}
        assert {"i18n.js", "agent.js", "board.js", "dialplan.js"} <= {p.name for p in script_files()}

    def test_every_message_has_a_russian_entry(self):
        """
        Each message of the templates, scripts and web-layer code has a non-empty Russian text
        (three non-empty forms for a plural).
        """
        missing = []
        for message, (plural, where) in sorted(all_messages().items()):
            entry = RU.get(message)
            good = (
                isinstance(entry, list) and len(entry) == 3 and all(entry)
                if plural
                else isinstance(entry, str) and entry.strip()
            )
            if not good:
                missing.append(f"{where}: {message!r} -> {entry!r}")

        assert [] == missing

    def test_translations_use_only_the_messages_placeholders(self):
        """
        A Russian text uses no placeholder its English message lacks (formatting would fail), and
        no other ``%`` than ``%(name)s`` and ``%%``.
        """
        wrong = []
        for message, entry in sorted(RU.items()):
            given = set(_PLACEHOLDER.findall(message))
            for text in entry if isinstance(entry, list) else [entry]:
                stray = _PLACEHOLDER.sub("", text).replace("%%", "")
                if not set(_PLACEHOLDER.findall(text)) <= given or "%" in stray:
                    wrong.append(f"{message!r} -> {text!r}")

        assert [] == wrong

    def test_a_literal_percent_sign_is_doubled(self):
        """
        Messages are always formatted (templates, scripts and Python alike), so a bare ``%`` would
        crash the page: it must be written ``%%``.
        """
        bare = [
            f"{where}: {message!r}"
            for message, (_plural, where) in sorted(all_messages().items())
            if "%" in _PLACEHOLDER.sub("", message).replace("%%", "")
        ]

        assert [] == bare

    def test_no_stale_entries(self):
        """
        Every Russian entry is still used somewhere (a reworded message leaves no orphan behind).
        """
        assert [] == sorted(set(RU) - set(all_messages()))


class TestNoTextOutsideGettext:
    def test_the_checker_finds_typed_text(self):
        """
        The checker reports words outside ``_()``, in readable attributes too, and nothing else.
        """
        source = (
            '{% block title %}{{ _("Calls") }} – CTI{% endblock %}<p class="x">Hello {{ user.name }}</p>'
            '{# a note #}<input placeholder="type here" value="{{ v }}">&nbsp;<b>{{ _("Ok") }}</b>'
            "{% trans n=3 %}{{ n }} calls{% endtrans %}<!-- a comment -->"
            '{% macro m() %} aria-invalid="true" data-x="{{ y }}-z"{% endmacro %}'
        )

        assert ["type", "here", "Hello"] == untranslated_text(source)

    @pytest.mark.parametrize("path", template_files(), ids=lambda p: str(p.relative_to(TEMPLATES)))
    def test_template_shows_no_untranslated_text(self, path):
        """
        Every word a template shows is inside ``{{ _("...") }}`` (the product name apart).
        """
        assert [] == untranslated_text(path.read_text(encoding="utf-8")), path.relative_to(WEB)
