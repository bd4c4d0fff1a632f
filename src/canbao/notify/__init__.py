"""Notifications: the SMS outbox, its senders (a file by default; adapters shaped like the major
Chinese SMS APIs), the approved templates, and the reminder rules that fill the outbox."""
