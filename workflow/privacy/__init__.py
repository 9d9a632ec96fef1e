"""Personal data (RGPD): each campaign's retention and the purge of what it expires
(`purge`, a list of per-table steps run by the scheduler, with its dry-run report), stable
pseudonyms for the audit trail (`pseudonyms`), what is held about a person exported for them
(`access_export`), an account closed (`closure`), and the privacy page's text (`notice`).

May import: `plumbing`, `models`, `campaigns`, `journal`, `people`, `instruction` (where
export files live).
"""
