"""The partner organisation of a dossier (the other établissement or structure of the shared
post, an address in the dossier): its signed read-only link to the dossier's summary and
decision (`links`), and its co-signature through that link where the campaign asks for one
(`cosigning`). The partner has no account: the link is its only key, and opens one dossier.

May import: `plumbing`, `models`, `campaigns`, `journal`.
"""
