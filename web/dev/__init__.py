"""Development-only pages (the outbox read without SMTP)."""
