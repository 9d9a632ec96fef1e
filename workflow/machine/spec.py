"""What states.yaml says of one event and its mails: plain data, read by the machine, the
firing and every set-based change."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MailSpec:
    template: str
    to: str
    on_publication: bool = False
    # A document attached by reference (workflow.documents.attachments), e.g. the letter.
    attach: str | None = None


@dataclass(frozen=True)
class EventSpec:
    name: str
    label: str
    sources: tuple[str, ...]
    dest: str
    who: tuple[str, ...]
    guards: tuple[str, ...]
    effects: tuple[str, ...]
    mails: tuple[MailSpec, ...]
