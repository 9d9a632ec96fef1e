"""What an administrator does: open, close and move a campaign's dates (audited),
instructor accounts and the campaigns each follows, and the demonstration accounts.

May import: `plumbing`, `models`, `campaigns`, `journal`, `people`, `machine`.
"""
