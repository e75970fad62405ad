"""Labels of the vocabularies, translated: data from ``vpitracker.vocab``, no database."""

from __future__ import annotations

from vpitracker.i18n import gettext
from vpitracker.vocab import CLUSTER_NAMES, LABELS
from vpitracker.vocabulary.schemas import Term, Vocabulary


def vocabulary(lang: str) -> Vocabulary:
    """Every vocabulary in ``lang`` (a supported language code)."""
    lists: dict[str, list[Term]] = {
        name: [Term(value=str(value), label=gettext(lang, label)) for value, label in terms.items()]
        for name, terms in LABELS.items()
    }
    lists["cluster"] = [
        Term(value=number, label=gettext(lang, name)) for number, name in CLUSTER_NAMES.items()
    ]
    return Vocabulary.model_validate({"lang": lang, **lists})
