"""``python -m vpitracker`` is the ``vpitracker`` command."""

from vpitracker.cli import app

app()
