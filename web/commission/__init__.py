"""The selection commission's pages: the ARS's sessions (agenda grouped, opinions, ranks,
scores, proposals reviewed and applied, minutes, promotions to confirm), the
administrator's funded posts, and the invited member's page reached by a signed link."""
