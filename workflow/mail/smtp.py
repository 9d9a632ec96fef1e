"""One SMTP connection per batch of the outbox, with the standard library's `smtplib`.

The connection opens at the first mail (a batch that has nothing to send, or that lost its
claim, never connects) and is reused for every mail of the batch. Each mail's outcome is
one of: "sent"; "unreachable" (the connection could not be opened: nothing was sent);
"cut" (the server stopped answering or hung up during the mail: it may have kept it);
"bounce" (a 5xx answer); "later" (a 4xx answer). `timeout` bounds the connection and every
command, so a hung server costs one timeout.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from dataclasses import dataclass
from functools import cache
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

Outcome = str | tuple[str, str]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    # Seconds for the connection and for each SMTP command: a hung server costs this once.
    timeout: float = 5
    # TLS (smtps or starttls) checks the server's certificate and name against the system's
    # authorities, or those of `cafile` (a relay signed by a private authority); `verify`
    # off is for a test relay only, and is logged at every connection.
    cafile: str | None = None
    verify: bool = True

    def tls_context(self) -> ssl.SSLContext:
        """The TLS context of smtps and STARTTLS: the certificate and host name checked."""
        if not self.verify:
            logger.warning("SMTP TLS to %s without checking its certificate", self.host)
            return ssl._create_unverified_context()  # asked for by SMTP_URL
        return ssl.create_default_context(cafile=self.cafile)


def parse_smtp_url(url: str) -> SmtpSettings:
    """`smtp://user:pass@host:587?starttls=1&timeout=5`, or `smtps://host:465` for implicit
    TLS; `timeout` (seconds, default 5) bounds the connection and each command; with TLS,
    `cafile=/path/ca.pem` trusts a private authority and `verify=0` checks nothing."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"SMTP_URL must look like smtp://user:pass@host:587, not {url!r}")
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes")
    ssl = parts.scheme == "smtps"
    return SmtpSettings(
        host=parts.hostname,
        port=parts.port or (465 if ssl else 25),
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        starttls=starttls,
        ssl=ssl,
        timeout=float(query.get("timeout", ["5"])[0]),
        cafile=query.get("cafile", [None])[0],
        verify=query.get("verify", ["1"])[0].lower() not in ("0", "false", "no"),
    )


@cache
def _local_hostname() -> str:
    """The name given in EHLO, looked up once per process: smtplib would ask the resolver
    again (socket.getfqdn) for every connection."""
    return socket.getfqdn()


class SmtpConnection:
    """A lazily opened SMTP connection that sends built messages one recipient at a time
    and says what became of each (see the module's docstring)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._client: smtplib.SMTP | None = None
        # Mails sent over the current connection: a server that hung up an idle or used
        # connection before the next mail began is reconnected to once.
        self._used = False

    def __enter__(self) -> SmtpConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, mail_from: str, recipient: str, message: bytes) -> Outcome:
        """Sends `message` to `recipient` and returns its outcome. Both addresses are plain
        ASCII addr-specs (`message.envelope_address`)."""
        client = self._client
        if client is None:
            try:
                client = self._open()
            except (OSError, smtplib.SMTPException) as exc:
                return "unreachable", f"le serveur SMTP est injoignable : {exc!r}"
        try:
            code, answer = self._mail(client, mail_from, len(message))
        except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            # ConnectionError: a reset or broken pipe, as the socket tells a closed peer
            # (a timeout, a hung server, is not one of them: that stays a cut).
            if not self._used:
                return self._cut(exc)
            # The server closed the connection between two mails (idle time, a limit of
            # mails per connection): nothing of this mail went out, so open a new one.
            self.drop()
            return self.send(mail_from, recipient, message)
        except OSError as exc:
            return self._cut(exc)
        try:
            if code != 250:
                return self._refused(client, code, answer)
            code, answer = client.docmd("rcpt", f"TO:<{recipient}>")
            if code not in (250, 251):
                return self._refused(client, code, answer)
            self._used = True
            code, answer = client.data(message)
        except smtplib.SMTPDataError as exc:
            # DATA itself was refused (smtplib raises instead of returning the code).
            return self._refused(client, exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPException) as exc:
            return self._cut(exc)
        if code != 250:
            return self._refused(client, code, answer)
        return "sent"

    def drop(self) -> None:
        """Closes the socket without QUIT: the server may be hung, QUIT would wait for it."""
        client, self._client, self._used = self._client, None, False
        if client is not None:
            client.close()

    def close(self) -> None:
        """Says QUIT and closes; a server that does not answer it is simply left."""
        client, self._client, self._used = self._client, None, False
        if client is None:
            return
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()

    def _open(self) -> smtplib.SMTP:
        settings = self.settings
        if settings.ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, _local_hostname(), timeout=settings.timeout,
                context=settings.tls_context(),
            )  # fmt: skip
        else:
            client = smtplib.SMTP(settings.host, settings.port, _local_hostname(),
                                  timeout=settings.timeout)  # fmt: skip
        try:
            if settings.starttls:
                client.starttls(context=settings.tls_context())
            if settings.user:
                client.login(settings.user, settings.password or "")
            client.ehlo_or_helo_if_needed()
        except BaseException:
            client.close()
            raise
        self._client = client
        return client

    @staticmethod
    def _mail(client: smtplib.SMTP, mail_from: str, size: int) -> tuple[int, bytes]:
        # docmd rather than mail(): our envelope addresses are plain already, and mail()
        # parses each one again (email.utils.parseaddr, a tenth of a millisecond).
        size_option = f" SIZE={size}" if client.does_esmtp and client.has_extn("size") else ""
        return client.docmd("mail", f"FROM:<{mail_from}>{size_option}")

    def _refused(self, client: smtplib.SMTP, code: int, answer: bytes | str) -> Outcome:
        text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer
        error = f"{code} {text}".strip()
        try:
            client.rset()  # the next mail starts from a clean envelope
        except (OSError, smtplib.SMTPException):
            self.drop()
        if 500 <= code < 600:
            return "bounce", error
        if code == 421:
            # "Service not available, closing the channel": the server hangs up after it.
            self.drop()
        return "later", error

    def _cut(self, exc: BaseException) -> Outcome:
        self.drop()
        return "cut", f"le serveur SMTP ne répond plus : {exc!r}"
