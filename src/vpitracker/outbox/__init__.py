"""The outbox: notifiable events written in the audited write's transaction.

Below both the audit chain (which queues events as it appends) and the notifications
that deliver them, so either may import it.
"""
