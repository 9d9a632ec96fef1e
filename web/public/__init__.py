"""Pages anyone can see: the campaigns open now."""
