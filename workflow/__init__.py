"""The domain of postes-partages, with no Flask import. Each package says what it owns and
what it may import; `tests/test_layout.py` checks those rules, from the bottom up:

- `plumbing`       the database, the clock, dates, identifiers, stored files, errors
- `models`         the typed tables, one module per aggregate
- `campaigns`      campaign definitions: the YAML schema, its loader, fields, completeness
- `journal`        what a change leaves behind in its transaction: audit rows, outbox rows
- `people`         who acts: actors, applicant accounts, passwords
- `machine`        THE state machine (states.yaml) and every change of a dossier
- `instruction`    the ARS side: avis, dashboard, exports, archives, timeline, read-only views
- `administration` campaign opening, closing and deadlines, instructor accounts, demo data
- `privacy`        personal data: retention purge, pseudonyms, access export, account closure
- `mail`           rendering and sending the outbox's mails
- `scheduling`     the leader's lease and the sweeps that must happen even if nobody asks
"""
