"""Accounts: creation, confirmation, sign-in and out, passwords, colleagues' invitations."""
