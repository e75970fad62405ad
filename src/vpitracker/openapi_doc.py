"""The committed OpenAPI document, rendered the same way every time."""

from __future__ import annotations

import json

from vpitracker.config import DEV_SECRET_KEY, Environment, Settings
from vpitracker.db import make_engine


def render() -> str:
    from vpitracker.main import create_app

    settings = Settings(env=Environment.development, secret_key=DEV_SECRET_KEY)
    app = create_app(settings, engine=make_engine("sqlite://"))
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
