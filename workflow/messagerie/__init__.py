"""The messagerie of a dossier: messages between its organisation and the ARS, with an
optional PDF, each one audited and mailed to the other side through the outbox, and read
markers per side (`messages`). A correction request enters the thread as the ARS's message
through the machine's `open_corrections` effect.

May import: `plumbing`, `models`, `journal`, `people`.
"""
