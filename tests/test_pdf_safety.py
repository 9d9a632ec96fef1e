"""PDFs with active content are refused: JavaScript (on opening, on a page, in a name tree,
behind a hex-escaped name, inside a compressed object stream), launch actions, automatic
actions, embedded files, rich media and XFA forms — for a déposant's pieces and for a signed
avis alike — and a PDF with too many pages or too many objects to check in time is refused
too, each with a French message (issue 15, hole 4)."""

from __future__ import annotations

import html
import io
import re
import zlib

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.actions import JavaScript
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)
from sqlalchemy import select

from tests.conftest import COMPLETE_VALUES, at_paris, pdf_bytes
from workflow.instruction.avis import avis_token, invite_avis
from workflow.models import Attachment, Avis
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import InvalidInput
from workflow.plumbing.pdf_safety import PdfLimits, check_objects, refuse_active_raw
from workflow.plumbing.storage import Storage, check_pdf

SCRIPTS = "contient du JavaScript ou des actions automatiques : il est refusé"
CARRIED = "contient des fichiers incorporés, du multimédia ou un formulaire dynamique"
PRINT_AGAIN = "Enregistrez-le sans contenu actif (Imprimer > PDF) puis joignez-le de nouveau."


def written(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def one_page() -> PdfWriter:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    return writer


def js_action(code: str = "app.alert('pwned')") -> DictionaryObject:
    return DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject(code),
        }
    )


def open_action_js() -> bytes:
    """The reproduction of the issue: /OpenAction runs JavaScript."""
    writer = one_page()
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(js_action())
    return written(writer)


def document_js() -> bytes:
    """JavaScript in the document's name tree (pypdf's add_open_action)."""
    writer = one_page()
    writer.add_open_action(JavaScript("app.alert('pwned')"))
    return written(writer)


def page_additional_action() -> bytes:
    """A page that runs an action when it is opened (/AA /O)."""
    writer = one_page()
    aa = DictionaryObject({NameObject("/O"): writer._add_object(js_action())})
    writer.pages[0][NameObject("/AA")] = aa
    return written(writer)


def launch_on_link() -> bytes:
    """A link annotation that launches a program."""
    writer = one_page()
    launch = DictionaryObject(
        {
            NameObject("/S"): NameObject("/Launch"),
            NameObject("/F"): TextStringObject("C:\\Windows\\System32\\calc.exe"),
        }
    )
    link = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (0, 0, 100, 100)]),
            NameObject("/A"): launch,
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(link)])
    return written(writer)


def form_field_action() -> bytes:
    """A form field whose keystroke action runs JavaScript (/AcroForm, /AA /K)."""
    writer = one_page()
    field = DictionaryObject(
        {
            NameObject("/FT"): NameObject("/Tx"),
            NameObject("/T"): TextStringObject("nom"),
            NameObject("/AA"): DictionaryObject({NameObject("/K"): js_action()}),
        }
    )
    form = DictionaryObject({NameObject("/Fields"): ArrayObject([writer._add_object(field)])})
    writer._root_object[NameObject("/AcroForm")] = form
    return written(writer)


def xfa_form() -> bytes:
    writer = one_page()
    form = DictionaryObject(
        {
            NameObject("/Fields"): ArrayObject(),
            NameObject("/XFA"): TextStringObject("<xdp:xdp/>"),
        }
    )
    writer._root_object[NameObject("/AcroForm")] = form
    return written(writer)


def embedded_file() -> bytes:
    writer = one_page()
    writer.add_attachment("facture.exe", b"MZ\x90\x00 not really a program")
    return written(writer)


def rich_media() -> bytes:
    writer = one_page()
    annotation = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/RichMedia"),
            NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (0, 0, 10, 10)]),
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(annotation)])
    return written(writer)


def hex_escaped_js() -> bytes:
    """/OpenAction << /S /J#61vaScript /J#53 (...) >>: the same names, spelt with escapes, so
    that a search for the plain words misses them."""
    data = open_action_js()
    escaped = data.replace(b"/JavaScript", b"/J#61vaScript").replace(b"/JS ", b"/J#53 ")
    assert b"/JavaScript" not in escaped and b"/JS " not in escaped
    return escaped


def object_stream_js(action: bool = True) -> bytes:
    """A PDF 1.5 file whose catalog, pages and JavaScript action all sit inside a compressed
    object stream, indexed by a cross-reference stream: no active name is visible in its
    bytes. Without `action`, the same file with a catalog that does not point at the
    script."""
    catalog = b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>"
    objects = [
        catalog if action else catalog.replace(b" /OpenAction 4 0 R", b""),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /S /JavaScript /JS (app.alert\\('pwned'\\)) >>",
    ]
    body, offsets = b"", []
    for obj in objects:
        offsets.append(len(body))
        body += obj + b"\n"
    header = b" ".join(b"%d %d" % (n, off) for n, off in enumerate(offsets, start=1)) + b"\n"
    packed = zlib.compress(header + body)
    out = b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"
    stream_at = len(out)
    out += (
        b"5 0 obj\n<< /Type /ObjStm /N 4 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (len(header), len(packed))
    )
    out += packed + b"\nendstream\nendobj\n"
    xref_at = len(out)
    rows = [bytes([0]) + (0).to_bytes(4, "big") + (65535).to_bytes(2, "big")]
    rows += [bytes([2]) + (5).to_bytes(4, "big") + i.to_bytes(2, "big") for i in range(4)]
    rows += [bytes([1]) + stream_at.to_bytes(4, "big") + (0).to_bytes(2, "big")]
    rows += [bytes([1]) + xref_at.to_bytes(4, "big") + (0).to_bytes(2, "big")]
    table = b"".join(rows)
    out += b"6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n" % len(
        table
    )
    out += table + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    assert b"JavaScript" not in out and b"/JS" not in out
    return out


HOSTILE = {
    "open-action-javascript": (open_action_js, SCRIPTS),
    "document-javascript": (document_js, SCRIPTS),
    "page-additional-action": (page_additional_action, SCRIPTS),
    "launch-on-a-link": (launch_on_link, SCRIPTS),
    "form-field-action": (form_field_action, SCRIPTS),
    "hex-escaped-names": (hex_escaped_js, SCRIPTS),
    "inside-an-object-stream": (object_stream_js, SCRIPTS),
    "embedded-file": (embedded_file, CARRIED),
    "rich-media": (rich_media, CARRIED),
    "xfa-form": (xfa_form, CARRIED),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_pdf_with_active_content_is_refused_with_a_french_message(case):
    build, message = HOSTILE[case]
    with pytest.raises(InvalidInput) as refused:
        check_pdf(build(), "piège.pdf")
    assert message in refused.value.message
    assert "« piège.pdf »" in refused.value.message
    assert PRINT_AGAIN in refused.value.message


def test_the_object_stream_pdf_is_refused_for_its_script_not_for_its_shape():
    """A file built like the object-stream reproduction opens and is accepted once its
    catalog no longer points at the script: the refusal is about the script. Even an
    unreachable script object is refused: another reader could repair its way to it."""
    with pytest.raises(InvalidInput, match="JavaScript"):
        check_pdf(object_stream_js(action=True))
    with pytest.raises(InvalidInput, match="JavaScript"):
        check_pdf(object_stream_js(action=False))


def test_an_ordinary_pdf_with_links_and_metadata_is_accepted():
    writer = one_page()
    writer.add_metadata({"/Title": "CV — Peggy Lambourde", "/Author": "P. Lambourde"})
    uri = DictionaryObject(
        {NameObject("/S"): NameObject("/URI"), NameObject("/URI"): TextStringObject("https://x.fr")}
    )
    link = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (0, 0, 100, 100)]),
            NameObject("/A"): uri,
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(link)])
    checked = check_pdf(written(writer), "cv.pdf")
    assert checked.pages == 1


def test_a_pdf_with_more_pages_than_the_limit_is_refused_and_one_at_the_limit_accepted():
    limits = PdfLimits(max_pages=5)
    assert check_pdf(pdf_bytes(pages=5), "these.pdf", limits).pages == 5
    with pytest.raises(InvalidInput) as refused:
        check_pdf(pdf_bytes(pages=6), "these.pdf", limits)
    assert refused.value.message == (
        "Le fichier PDF « these.pdf » compte 6 pages : une pièce en compte 5 au plus. "
        "Joignez seulement les pages utiles."
    )


def test_a_page_count_that_lies_does_not_get_past_the_limit():
    data = pdf_bytes(pages=8)
    lying = re.sub(rb"/Count 8\b", b"/Count 1", data)
    assert lying != data
    with pytest.raises(InvalidInput, match="compte plus de 5 pages"):
        check_pdf(lying, "x.pdf", PdfLimits(max_pages=5))


def test_a_pdf_too_large_to_check_within_the_object_budget_is_refused():
    """A few objects, one of them an array of 500 items: the walk counts what it visits."""
    writer = one_page()
    writer.pages[0][NameObject("/Nombres")] = ArrayObject(NumberObject(n) for n in range(500))
    data = written(writer)
    assert check_pdf(data, "gros.pdf", PdfLimits(max_objects=1000)).pages == 1
    with pytest.raises(InvalidInput) as refused:
        check_pdf(data, "gros.pdf", PdfLimits(max_objects=100))
    assert "« gros.pdf » est trop complexe pour être vérifié" in refused.value.message


def test_a_pdf_listing_more_objects_than_the_budget_is_refused_before_any_is_read():
    with pytest.raises(InvalidInput, match="trop complexe pour être vérifié"):
        check_pdf(pdf_bytes(pages=20), "liste.pdf", PdfLimits(max_objects=10, max_pages=100))


def test_a_pdf_that_cannot_be_checked_within_the_time_budget_is_refused():
    with pytest.raises(InvalidInput, match="trop complexe pour être vérifié"):
        check_pdf(pdf_bytes(pages=3), "lent.pdf", PdfLimits(seconds=-1.0))


def test_deeply_nested_arrays_are_refused_as_damaged_or_complex_not_a_crash():
    data = pdf_bytes()
    nested = b"[" * 50_000 + b"]" * 50_000
    data = data.replace(b"/Title", b"/Nested " + nested + b" /Title", 1)
    with pytest.raises(InvalidInput) as refused:
        check_pdf(data, "profond.pdf")
    assert "« profond.pdf » est endommagé ou illisible" in refused.value.message


# --- through the web: a déposant's piece, a signed avis ---------------------------------------

DURING = at_paris(2026, 2, 10)


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


@pytest.mark.parametrize("case", ["open-action-javascript", "inside-an-object-stream"])
def test_a_deposant_cannot_attach_a_pdf_that_runs_javascript(
    case, world, client, auth, app, session
):
    hospital = world.organisation()
    auth.login(world.user("deposant", hospital))
    dossier = world.dossier(world.campaign(), hospital, complete=False)
    with transaction(session):
        dossier.values = {"identification": COMPLETE_VALUES["identification"]}
    build, message = HOSTILE[case]
    with auth.at(DURING):
        response = client.post(
            f"/dossiers/{dossier.id}/pieces/cv",
            data={"fichier": (io.BytesIO(build()), "cv.pdf")},
            content_type="multipart/form-data",
        )
    assert response.status_code == 422
    assert message in text_of(response)
    assert 'id="error-fichier-cv"' in response.text
    session.expire_all()
    assert session.scalars(select(Attachment)).all() == []
    assert not [p for p in Storage(app.config["UPLOAD_DIR"]).root.rglob("*") if p.is_file()]


def test_a_signed_avis_that_runs_javascript_is_refused_and_nothing_is_kept(
    world, client, app, session
):
    secret = app.config["SECRET_KEY"]
    campaign = world.campaign(
        avis=[{"key": "coordonnateur", "label": "Avis du coordonnateur", "giver": "coordonnateur"}]
    )
    dossier = world.dossier(campaign, world.organisation(), "en_instruction")
    instructeur = world.actor("instructeur")
    with transaction(session):
        avis = invite_avis(
            session,
            dossier,
            "coordonnateur",
            "coordo@chu-rouen.fr",
            "Pr Martin",
            instructeur,
            secret_key=secret,
            base_url="http://localhost",
        )
    response = client.post(
        f"/avis/{avis_token(avis.id, secret)}",
        data={
            "verdict": "favorable",
            "comment": "Très bien.",
            "fichier": (io.BytesIO(page_additional_action()), "avis signé.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    error = html.unescape(response.text.split('id="error-fichier">', 1)[1])
    assert SCRIPTS in error
    session.expire_all()
    given = session.scalars(select(Avis)).one()
    assert (given.given_at, given.storage_name) == (None, None)
    assert not [p for p in Storage(app.config["UPLOAD_DIR"]).root.rglob("*") if p.is_file()]


def test_each_pass_alone_sees_a_hex_escaped_script():
    """The raw pass and the object walk each decode `#xx` escapes: neither relies on the
    other for `/J#61vaScript`."""
    data = hex_escaped_js()
    with pytest.raises(InvalidInput, match="JavaScript"):
        refuse_active_raw(data)
    with pytest.raises(InvalidInput, match="JavaScript"):
        check_objects(PdfReader(io.BytesIO(data)))


def test_names_that_only_begin_like_active_ones_are_not_refused():
    writer = one_page()
    writer.add_metadata({"/Title": "JSON et JavaScript expliqués", "/AAA": "x"})
    writer.pages[0][NameObject("/JSON")] = NameObject("/AAAAAA+Calibri")
    assert check_pdf(written(writer)).pages == 1
