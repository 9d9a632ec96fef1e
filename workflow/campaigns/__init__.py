"""Campaign definitions: the YAML schema, its loader, field types and their values, the
completeness of a dossier, and the stored versions of each campaign.

May import: `plumbing`, `models`.
"""
