"""What outside tools get: API tokens (`tokens`: created by an administrator, shown once,
kept hashed, scoped, revocable), the JSON views of campaigns and dossiers the API serves
(`reading`), webhooks registered per campaign (`webhooks`), their HMAC signature
(`signing`) and the scheduler's sender of the queued deliveries (`delivery`).

May import: `plumbing`, `models`, `campaigns`, `journal`, `people`, `machine`, `instruction`.
"""
