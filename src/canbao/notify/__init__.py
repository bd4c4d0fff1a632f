"""Notifications: the SMS outbox, its senders (a file by default; adapters shaped like the major
Chinese SMS APIs), the approved templates, the reminder rules that fill the outbox, reminder
batches and delivery receipts (docs/reminders.md).

Modules: :mod:`.config` (``DATA/notify.toml``), :mod:`.templates`, :mod:`.senders` and
:mod:`.signing`, :mod:`.outbox` (:func:`.outbox.send_now` for one-time codes),
:mod:`.windows` (resident payment windows), :mod:`.contacts` (opt-outs, employer contacts),
:mod:`.rules`, :mod:`.quiet_hours`, :mod:`.batches`, :mod:`.receipts`."""
