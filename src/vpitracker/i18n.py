"""Languages: English (default) and Kiswahili, through gettext catalogs.

Every user-facing string in pages, emails and problem texts goes through this
module, so the catalogs under ``vpitracker/locale`` see all of them:

- ``gettext(lang, "Sign in")`` translates now, for a known language;
- ``N_("Overdue")`` only marks a string for extraction (translate it later with
  ``gettext``), for module-level constants;
- ``translations(lang)`` gives a ``gettext.NullTranslations`` for Jinja2's
  ``jinja2.ext.i18n`` extension (``env.install_gettext_translations``);
- ``negotiate(accept_language)`` picks ``en`` or ``sw`` from a header.

Until compiled catalogs ship, every language falls back to the English text.
"""

from __future__ import annotations

import gettext as _gettext
from functools import lru_cache
from pathlib import Path

SUPPORTED = ("en", "sw")
DEFAULT = "en"
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).parent / "locale"


def normalize(lang: str | None) -> str | None:
    """``sw-KE`` -> ``sw``; ``None`` for a language we do not speak."""
    if not lang:
        return None
    base = lang.strip().replace("_", "-").split("-", 1)[0].lower()
    return base if base in SUPPORTED else None


@lru_cache(maxsize=len(SUPPORTED))
def translations(lang: str) -> _gettext.NullTranslations:
    """The compiled catalog for ``lang`` (English text where there is none)."""
    code = normalize(lang) or DEFAULT
    return _gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[code], fallback=True)


def gettext(lang: str, message: str) -> str:
    return translations(lang).gettext(message)


def ngettext(lang: str, singular: str, plural: str, n: int) -> str:
    return translations(lang).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it."""
    return message


def negotiate(accept_language: str | None) -> str:
    """The best supported language in an ``Accept-Language`` header (q-values honoured)."""
    if not accept_language:
        return DEFAULT
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        code = normalize(tag)
        if code and quality > 0:
            choices.append((-quality, index, code))
    return min(choices)[2] if choices else DEFAULT
