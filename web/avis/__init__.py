"""The page an avis giver reaches through a signed personal link, without an account."""
