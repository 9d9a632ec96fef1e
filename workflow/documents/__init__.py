"""Generated documents: the commission's procès-verbal and each dossier's decision letter,
rendered from HTML templates with WeasyPrint (`pdf.py`, never a network fetch), and their
archive (`archive.py`): every PDF sent or downloaded is stored once, its SHA-256 in the
audit trail, so that what was sent can be shown later, byte for byte.

May import: `plumbing`, `models`, `campaigns`, `journal`, `people`.
"""
