"""Time: one scheduler leader through a database lease (`scheduler`) runs the idempotent
sweeps (`jobs`): closing campaigns at their deadline, reminders, confirmation requests, the
liste complémentaire's promotions, and the outbox flush, the webhook deliveries, the RGPD
purge (`privacy.purge`); and the export worker (`export_worker`) that runs queued exports.

May import: `plumbing`, `models`, `campaigns`, `journal`, `people`, `machine`, `mail`,
`instruction`, `privacy`, `api`, `commission`.
"""
