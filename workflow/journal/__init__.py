"""What a change leaves behind in its own transaction: the append-only audit trail
(`audit`) and the outbox of mails still to send (`outbox`). Writing here is part of the
change; reading and sending is someone else's (`instruction.timeline`, `mail`).

May import: `plumbing`, `models`.
"""
