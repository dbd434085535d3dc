"""Match keys for duplicate control: one normal form per person name, company name and e-mail.

The keys are stored beside the text they come from (``contact.name_key``, ``company.title_key``,
``lead.name_key``/``lead.company_key``, ``email.value_key``) and indexed, so a duplicate check is an
index look-up even over a million cards. The model classes fill them in whenever the text is set,
so every writer (services, seed, call logging, imports) keeps them right without thinking of it.

Bitrix24 users' most common duplicate complaints are the same person typed twice with the words
swapped ("Смирнова Анна" / "Анна Смирнова"), with "ё" and "е" mixed, and the same company with and
without its legal form ("ООО «Ромашка»" / "Ромашка"). The keys ignore exactly those differences and
nothing else: two different people with the same full name still match, which is what a human
reviewing the duplicates wants to see.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["LEGAL_FORMS", "company_key", "email_key", "person_key"]

LEGAL_FORMS: frozenset[str] = frozenset(
    {
        # Russian and CIS forms, then the usual foreign ones
        "ооо",
        "оао",
        "зао",
        "пао",
        "ао",
        "нао",
        "ип",
        "чп",
        "тоо",
        "гуп",
        "муп",
        "нко",
        "llc",
        "ltd",
        "inc",
        "corp",
        "co",
        "gmbh",
        "ag",
        "jsc",
        "ojsc",
        "cjsc",
        "plc",
        "sa",
        "srl",
        "bv",
    }
)
"Legal-form words dropped from company names (compared after case folding)."

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    return _WORD.findall(folded)


def person_key(name: str | None) -> str | None:
    """``"Смирнова  Анна Ёлкина"`` -> ``"анна елкина смирнова"``: words sorted, case and ё folded.

    None for a name with no letters or digits (it can match nothing).
    """
    if not name:
        return None
    words = _words(name)
    return " ".join(sorted(words))[:200] or None


def company_key(title: str | None) -> str | None:
    """``"ООО «Ромашка»"`` -> ``"ромашка"``: legal forms, quotes and punctuation dropped, case folded.

    Word order is kept (it carries meaning in company names). A title made only of a legal form
    keys as that form, so "ООО" alone still equals "ООО".
    """
    if not title:
        return None
    words = _words(title)
    kept = [word for word in words if word not in LEGAL_FORMS] or words
    return " ".join(kept)[:200] or None


def email_key(value: str | None) -> str | None:
    """``" Anna@Example.COM "`` -> ``"anna@example.com"``; None unless it looks like an address."""
    if not value:
        return None
    text = value.strip().casefold()
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in text):
        return None
    return text[:254]
