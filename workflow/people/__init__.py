"""Who acts: the actor of a change (a person with a role, or the scheduler), applicants'
accounts and organisations (registration, confirmation links, invitations, passwords),
sign-in sessions kept server-side, and the append-only security journal of accounts.

May import: `plumbing`, `models`, `journal` (account mails are queued in the outbox).
"""
