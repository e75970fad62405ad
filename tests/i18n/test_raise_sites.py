"""Problem details are templates the catalogs can hold, never sentences built at the raise."""

from __future__ import annotations

import ast
import configparser

from tests.i18n.catalogs import ROOT
from vpitracker import errors

SRC = ROOT / "src" / "vpitracker"


def keywords() -> dict[str, int]:
    """Extraction keywords of babel.cfg: function name -> position of the message."""
    config = configparser.ConfigParser()
    config.read(ROOT / "babel.cfg")
    out = {}
    for spec in config["python: src/vpitracker/**.py"]["keywords"].split():
        name, _, position = spec.partition(":")
        out[name] = int(position.split(",")[0]) if position else 1
    return out


def error_classes() -> set[str]:
    found: set[str] = set()
    todo = [errors.AppError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_is_an_extraction_keyword() -> None:
    # Subclasses defined elsewhere (tests, other modules) are not raised with details.
    defined_in_errors = {c for c in error_classes() if getattr(errors, c, None) is not None}
    assert defined_in_errors - set(keywords()) == set(), "add them to babel.cfg keywords"


def _built_sentence(node: ast.expr) -> bool:
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    )


def test_no_detail_is_an_f_string_or_formatted_at_the_raise() -> None:
    wanted = keywords()
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            position = wanted.get(name or "")
            if position is None or len(node.args) < position:
                continue
            if _built_sentence(node.args[position - 1]):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == [], "pass a template with %(name)s and the values as keywords"


def test_a_detail_template_renders_the_same_english_as_before() -> None:
    error = errors.NotFound("No ministry with id %(id)s", id=7)
    assert error.detail == str(error) == "No ministry with id 7"
    assert errors.Conflict("50% done").detail == "50% done"  # no params: no formatting
    invalid = errors.Invalid("%(field)s cannot be null", loc=["body", "code"], field="code")
    assert invalid.errors == [{"loc": ["body", "code"], "msg": "code cannot be null"}]


def test_templates_of_pages_and_emails_are_extracted() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "babel.cfg")
    sections = config.sections()
    assert "jinja2: src/vpitracker/web/templates/**.html" in sections
    assert "jinja2: src/vpitracker/notifications/templates/**" in sections
