"""MIME messages of the outbox, written as bytes ready for SMTP.

The standard library's generator (behind `email.message` and the `emails` package alike)
parses and folds every header it writes and measures every character of every fold: about
1.6 ms of CPU a message, under the interpreter lock, which capped the senders far below
the outbox's 500 mails a second. Our messages always have the same shape, so they are
written directly, with the standard library's encoders for each piece:

    multipart/alternative (text/plain, text/html)               without attachments
    multipart/mixed (multipart/alternative (...), files...)      with attachments

Bodies are UTF-8 in base64 (lines of 76 characters), the subject RFC 2047 base64 words
when it is not ASCII, file names RFC 2231, lines end with CRLF as SMTP expects. The MIME
boundaries come from the Message-ID: stable, and never found in base64 text (no `-`).
A header value holding a line break is refused (header injection).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from email.charset import QP, Charset
from email.header import Header
from email.utils import encode_rfc2231, format_datetime, formataddr, parseaddr
from functools import lru_cache

from workflow.documents.attachments import Attached
from workflow.mail.templates import RenderedMail

CRLF = "\r\n"
# Bytes of UTF-8 per encoded word: "Subject: " + one word of 12 + 56 characters stays
# within the 78 characters a line should not exceed (RFC 5322).
_WORD_BYTES = 42


def build_message(
    rendered: RenderedMail,
    *,
    mail_from: str,
    recipient: str,
    message_id: str,
    date: dt.datetime,
    attachments: Sequence[Attached] = (),
    reply_to: str | None = None,
) -> bytes:
    """The message as sent: From, To, Subject, Date, Message-ID (the outbox row's, stable
    across retries), Reply-To when given, the text and HTML bodies as alternatives, then
    the attached files. `mail_from` may carry a display name ("ARS <ne-pas-repondre@...>").
    ValueError when a header would hold a line break."""
    for name, value in (("From", mail_from), ("To", recipient), ("Message-ID", message_id),
                        ("Reply-To", reply_to or "")):  # fmt: skip
        # Checked before parsing: parseaddr would drop what follows a line break.
        if "\r" in value or "\n" in value:
            raise ValueError(f"line break in the {name} header of {message_id!r}")
    boundary = "=_pp{}_" + hashlib.sha1(message_id.encode()).hexdigest()
    headers = [
        ("From", header_address(mail_from)),
        ("To", header_address(recipient)),
        ("Subject", encoded_subject(rendered.subject)),
        ("Date", format_datetime(date.astimezone(dt.UTC))),
        ("Message-ID", message_id),
    ]
    if reply_to:
        headers.append(("Reply-To", header_address(reply_to)))
    headers.append(("MIME-Version", "1.0"))
    alternative = boundary.format(1)
    bodies = _multipart(
        alternative,
        [
            _part('text/plain; charset="utf-8"', rendered.text.encode()),
            _part('text/html; charset="utf-8"', rendered.html.encode()),
        ],
    )
    if attachments:
        mixed = boundary.format(0)
        top = f'multipart/mixed;{CRLF} boundary="{mixed}"'
        inner = f'Content-Type: multipart/alternative;{CRLF} boundary="{alternative}"{CRLF}{CRLF}'
        parts = [inner + bodies] + [_file(file) for file in attachments]
        body = _multipart(mixed, parts)
    else:
        top, body = f'multipart/alternative;{CRLF} boundary="{alternative}"', bodies
    headers.append(("Content-Type", top))
    for name, value in headers:
        unfolded = value.replace(f"{CRLF} ", "")
        if "\r" in unfolded or "\n" in unfolded:
            raise ValueError(f"line break in the {name} header of {message_id!r}")
    head = "".join(f"{name}: {value}{CRLF}" for name, value in headers)
    return (head + CRLF + body).encode("ascii")


def encoded_subject(subject: str) -> str:
    """The subject as is when ASCII, else RFC 2047 base64 words of UTF-8, folded one word
    a line, never splitting a character (RFC 2047 section 5)."""
    if subject.isascii():
        return subject
    words, word, size = [], [], 0
    for char in subject:
        length = len(char.encode())
        if size + length > _WORD_BYTES:
            words.append("".join(word))
            word, size = [], 0
        word.append(char)
        size += length
    words.append("".join(word))
    return f"{CRLF} ".join(
        f"=?utf-8?b?{base64.b64encode(w.encode()).decode('ascii')}?=" for w in words
    )


# An addr-spec made of a dot-atom (RFC 5322 3.2.3) in ASCII: written as it is.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")
_UTF8_QP = Charset("utf-8")
_UTF8_QP.header_encoding = QP


def header_address(address: str) -> str:
    """An address for From, To or Reply-To: a display name in RFC 2047 words when it is not
    ASCII, the domain in IDNA. A local part that is not ASCII is written as one encoded
    word, as the `emails` package did before us (assumption: such addresses are accepted by
    `check_email` but never met in practice; SMTPUTF8 would be needed to deliver them)."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return address  # nearly every recipient: no need to parse it
    return _parsed_header_address(address)


@lru_cache(maxsize=64)  # the sender's own From, with its display name, comes back each mail
def _parsed_header_address(address: str) -> str:
    name, addr = parseaddr(address)
    if not addr:
        addr = address
    if not addr.isascii():
        local, _, domain = addr.rpartition("@")
        addr = f"{local}@{domain.encode('idna').decode('ascii')}" if local else addr
        if not addr.isascii():
            return Header(addr, "utf-8").encode(linesep=CRLF)
    if not name:
        return addr
    return formataddr((name, addr), charset=_UTF8_QP)


def envelope_address(address: str) -> str:
    """The address for SMTP's MAIL FROM and RCPT TO: without display name, domain in IDNA.
    ValueError for a local part that is not ASCII: it needs SMTPUTF8, which we do not ask
    (assumption: no such address in practice; the mail is retried, then marked failed)."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return address
    addr = parseaddr(address)[1] or address
    if addr.isascii():
        return addr
    local, _, domain = addr.rpartition("@")
    if not local.isascii():
        raise ValueError(f"the address {addr!r} needs SMTPUTF8 (not ASCII before the @)")
    return f"{local}@{domain.encode('idna').decode('ascii')}"


def _base64_lines(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii").replace("\n", CRLF)


def _part(content_type: str, data: bytes) -> str:
    return (
        f"Content-Type: {content_type}{CRLF}Content-Transfer-Encoding: base64{CRLF}{CRLF}"
        + _base64_lines(data)
    )


def _file(file: Attached) -> str:
    for text in (file.mimetype, file.filename):
        if "\r" in text or "\n" in text:
            raise ValueError(f"line break in the attachment {file.filename!r}")
    if file.filename.isascii() and '"' not in file.filename and "\\" not in file.filename:
        name, param = f'"{file.filename}"', ""
    else:
        name, param = encode_rfc2231(file.filename, "utf-8"), "*"
    return (
        f"Content-Type: {file.mimetype};{CRLF} name{param}={name}{CRLF}"
        f"Content-Transfer-Encoding: base64{CRLF}"
        f"Content-Disposition: attachment;{CRLF} filename{param}={name}{CRLF}{CRLF}"
        + _base64_lines(file.data)
    )


def _multipart(boundary: str, parts: list[str]) -> str:
    delimiter = f"--{boundary}{CRLF}"
    # Each part ends with CRLF: the one before a delimiter belongs to the delimiter.
    return delimiter + delimiter.join(p + CRLF for p in parts) + f"--{boundary}--{CRLF}"
