"""The instructors' pages: followed campaigns, dashboard, dossier page, transitions,
corrections, decisions, publication, avis requests, exports."""
