"""TLS to the SMTP relay checks the relay's certificate and name: a relay whose certificate
no trusted authority signed gets no mail (and no password), unless SMTP_URL names the
authority (`cafile=`) or, for a test relay, turns the check off (`verify=0`). Real servers
on loopback, implicit TLS (smtps) and STARTTLS, with a certificate made for the test."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import MailCatcher
from tests.test_mail_smtp import send_through
from workflow.mail.smtp import parse_smtp_url


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relais de test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "relais.pem", folder / "relais.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class TlsRelay(MailCatcher):
    """The test's SMTP server, with implicit TLS (`smtps`) or STARTTLS."""

    def __init__(self, certificate: tuple[Path, Path], *, implicit: bool) -> None:
        super().__init__()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*certificate)
        self.context, self.implicit = context, implicit

    @property
    def url(self) -> str:
        if self.implicit:
            return f"smtps://127.0.0.1:{self.port}?timeout=5"
        return f"smtp://127.0.0.1:{self.port}?starttls=1&timeout=5"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        if self.implicit:
            self.controller = Controller(
                self, hostname="127.0.0.1", port=self.port, ssl_context=self.context
            )
        else:
            self.controller = Controller(
                self, hostname="127.0.0.1", port=self.port, tls_context=self.context,
                require_starttls=True,
            )  # fmt: skip
        self.controller.start()


@pytest.mark.parametrize("implicit", [True, False], ids=["smtps", "starttls"])
def test_a_relay_whose_certificate_nobody_trusted_gets_no_mail(certificate, implicit):
    relay = TlsRelay(certificate, implicit=implicit)
    ((outcome, reason),) = send_through(relay, 1)
    assert outcome == "unreachable" and "CERTIFICATE_VERIFY_FAILED" in reason
    assert relay.messages == []


@pytest.mark.parametrize("implicit", [True, False], ids=["smtps", "starttls"])
def test_a_relay_signed_by_the_authority_smtp_url_names_gets_the_mail(certificate, implicit):
    relay = TlsRelay(certificate, implicit=implicit)
    assert send_through(relay, 1, f"{relay.url}&cafile={certificate[0]}") == ["sent"]
    assert [m["Subject"] for m in relay.messages] == ["Dossier déposé"]


def test_the_check_is_off_only_when_smtp_url_says_so(certificate, caplog):
    relay = TlsRelay(certificate, implicit=True)
    assert send_through(relay, 1, f"{relay.url}&verify=0") == ["sent"]
    assert "without checking its certificate" in caplog.text
    assert parse_smtp_url("smtps://mail.example.fr").verify is True
