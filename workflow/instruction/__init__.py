"""The ARS's side of a deposited dossier: avis requested from experts (and those the déposant
collects before deposit, `avis_collected.py`, on the same signed links), the instructors'
dashboard (with its « message non lu » and « corrections transmises » markers), exports and
ZIP archives, the timeline read from the audit trail, and a dossier
rendered read-only.

May import: `plumbing`, `models`, `campaigns`, `journal`, `people`, `machine`,
`messagerie`, `commission` (the funded posts of the statistics).
"""
