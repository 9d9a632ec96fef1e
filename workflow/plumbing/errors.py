"""Domain errors: each carries a French message that can be shown to the user as it is."""

from __future__ import annotations


class WorkflowError(Exception):
    """Base of the errors the UI shows; `message` is French."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TransitionRefused(WorkflowError):
    """A guard failed, the actor may not act, or the event does not apply to the state."""

    def __init__(self, event_label: str, reasons: list[str]):
        self.event_label = event_label
        self.reasons = reasons
        listed = " ".join(reasons)
        super().__init__(f"Action « {event_label} » impossible : {listed}")


class ConflictError(WorkflowError):
    """Somebody else changed the dossier between the moment it was read and the write."""

    def __init__(self, message: str = ""):
        super().__init__(
            message
            or "Le dossier a été modifié entre-temps par une autre personne : "
            "rechargez la page, vérifiez son état et recommencez."
        )


class InvalidInput(WorkflowError):
    """Field values that cannot be saved; `errors` maps field keys to French messages."""

    def __init__(self, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.errors = errors or {}


class SchemaBehind(RuntimeError):
    """The database is not at the migration this code expects (an operator's error)."""


class InvalidLink(WorkflowError):
    """A link from a mail (account confirmation, password reset) that is forged, expired or
    already used; the message says which and what to do."""


class EmailNotConfirmed(WorkflowError):
    """The password is right but the address has not been confirmed yet."""
