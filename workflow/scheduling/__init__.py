"""Time: one scheduler leader through a database lease (`scheduler`) runs the idempotent
sweeps (`jobs`): closing campaigns at their deadline, reminders, confirmation requests, and
the outbox flush.

May import: `plumbing`, `models`, `campaigns`, `journal`, `people`, `machine`, `mail`.
"""
