"""The SMTP connection of a batch against real servers on loopback: reused, reopened when
the server hangs up between two mails, and a refusal of DATA recorded like one of RCPT."""

from __future__ import annotations

import asyncio

from tests.conftest import MailCatcher
from tests.test_mail_message import SENT_AT
from workflow.mail.message import build_message
from workflow.mail.smtp import SmtpConnection, parse_smtp_url
from workflow.mail.templates import RenderedMail


class CountingConnections(MailCatcher):
    """Keeps what it receives and the SMTP sessions (connections) it came over."""

    def __init__(self) -> None:
        super().__init__()
        # The session objects themselves: kept alive, so that no two share an id().
        self.sessions: dict[int, object] = {}

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.sessions[id(session)] = session
        return await super().handle_DATA(server, session, envelope)


class HangingUp(CountingConnections):
    """Accepts a mail, then closes the connection (a server's limit of one mail each)."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        answer = await super().handle_DATA(server, session, envelope)
        asyncio.get_running_loop().call_soon(server.transport.close)
        return answer


class RefusingData(MailCatcher):
    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        return "554 5.6.0 Message refused: content"


def messages(count: int) -> list[bytes]:
    rendered = RenderedMail("Dossier déposé", "texte", "<p>html</p>")
    return [
        build_message(
            rendered,
            mail_from="ars@example.fr",
            recipient=f"bam{i}@ch.example.fr",
            message_id=f"<{i}@postes-partages>",
            date=SENT_AT,
        )  # fmt: skip
        for i in range(count)
    ]


def send_through(server: MailCatcher, count: int, url: str | None = None) -> list:
    """Starts `server`, sends it `count` messages over one SmtpConnection (to `url`, the
    server's own by default), stops it; returns each message's outcome."""
    server.start()
    try:
        with SmtpConnection(parse_smtp_url(url or server.url)) as connection:
            return [
                connection.send("ars@example.fr", f"bam{i}@ch.example.fr", data)
                for i, data in enumerate(messages(count))
            ]
    finally:
        server.stop()


def test_mails_share_one_connection_and_each_arrives_once():
    server = CountingConnections()
    assert send_through(server, 3) == ["sent"] * 3 and len(server.sessions) == 1
    assert [m["Message-ID"] for m in server.messages] == [f"<{i}@postes-partages>"
                                                          for i in range(3)]  # fmt: skip


def test_a_server_that_hangs_up_after_each_mail_gets_a_new_connection_for_the_next():
    server = HangingUp()
    assert send_through(server, 3) == ["sent"] * 3
    assert len(server.messages) == 3 and len(server.sessions) == 3


def test_a_refused_message_is_a_bounce_and_the_connection_serves_the_next_one():
    server = RefusingData()
    server.start()
    server.refused.add("bam1@ch.example.fr")
    try:
        with SmtpConnection(parse_smtp_url(server.url)) as connection:
            first, second = (
                connection.send("ars@example.fr", f"bam{i}@ch.example.fr", data)
                for i, data in enumerate(messages(2))
            )
        assert first == ("bounce", "554 5.6.0 Message refused: content")
        assert second == ("bounce", "550 5.1.1 Mailbox unavailable")
    finally:
        server.stop()


def test_an_unreachable_server_says_so_without_sending():
    server = MailCatcher()  # a free port nobody listens on
    with SmtpConnection(parse_smtp_url(f"{server.url}?timeout=2")) as connection:
        kind, error = connection.send("ars@example.fr", "bam@ch.example.fr", messages(1)[0])
    assert kind == "unreachable" and "injoignable" in error
