"""Mails leave here: rendered from mail_templates/ (`templates`), written as MIME bytes
(`message`) and sent over SMTP (`smtp`, one connection per batch) with retries and bounces
(`sender`). What to send was decided by the change that queued it in `journal.outbox`.

May import: `plumbing`, `models`, `campaigns`, `journal`, `partners` (the partner's link,
signed when the mail leaves), `documents` (attached letters).
"""
