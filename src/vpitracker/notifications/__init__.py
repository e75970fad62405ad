"""Notifications: the outbox, the worker, signed webhooks and email."""
