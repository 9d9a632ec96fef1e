"""PDF pieces: only real PDFs are kept (content, not name), and files on disk follow the
database transaction: a rolled-back upload leaves no file, a replaced one is removed once
the change commits."""

from __future__ import annotations

import pytest

from tests.conftest import pdf_bytes
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import InvalidInput
from workflow.plumbing.storage import MAX_PDF_BYTES, Storage, check_pdf


def test_a_real_pdf_is_accepted_with_its_size_digest_and_pages():
    data = pdf_bytes(pages=3)
    checked = check_pdf(data, "cv.pdf")
    assert (checked.size, checked.pages) == (len(data), 3)
    assert len(checked.sha256) == 64


def test_a_text_file_renamed_pdf_is_refused_by_its_content():
    with pytest.raises(InvalidInput) as refused:
        check_pdf(b"Curriculum vitae\nNom : Lambourde\n", "cv.pdf")
    assert refused.value.message.startswith("Le fichier « cv.pdf » n'est pas un PDF")
    assert "seuls les fichiers PDF sont acceptés" in refused.value.message


def test_a_word_document_is_refused():
    docx = b"PK\x03\x04" + b"\x00" * 200  # a .docx is a zip file
    with pytest.raises(InvalidInput, match="n'est pas un PDF"):
        check_pdf(docx, "lettre.pdf")


def test_a_pdf_protected_by_a_password_is_refused():
    with pytest.raises(InvalidInput) as refused:
        check_pdf(pdf_bytes(password="secret"), "attestation.pdf")
    assert "protégé par un mot de passe" in refused.value.message
    assert "Enregistrez-le sans protection" in refused.value.message


def test_a_pdf_that_opens_without_a_password_is_accepted_even_if_restricted():
    # Only an owner password (printing or copying restricted): anyone can open and read it.
    assert check_pdf(pdf_bytes(password=""), "restreint.pdf").pages == 1


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: b"%PDF-1.4\n" + b"\x00garbage" * 40,
        lambda data: data.replace(b"/Pages", b"/Xages"),
    ],
    ids=["truncated", "header-only", "broken-page-tree"],
)
def test_a_damaged_pdf_is_refused(damage):
    with pytest.raises(InvalidInput) as refused:
        check_pdf(damage(pdf_bytes()), "cv.pdf")
    assert "endommagé ou illisible" in refused.value.message


def test_an_empty_file_is_refused():
    with pytest.raises(InvalidInput, match="est vide"):
        check_pdf(b"", "vide.pdf")


def test_a_file_over_the_limit_is_refused_with_the_limit_stated():
    big = pdf_bytes() + b"%" + b"0" * MAX_PDF_BYTES
    with pytest.raises(InvalidInput) as refused:
        check_pdf(big, "scan.pdf")
    assert "la taille maximale est de 10 Mo" in refused.value.message


def test_files_are_stored_under_random_names_readable_by_the_owner_only(tmp_path):
    storage = Storage(tmp_path)
    first, second = storage.save(b"one"), storage.save(b"one")
    assert first != second and len(first) == 64
    assert storage.read(first) == b"one"
    assert oct(storage.path(first).stat().st_mode)[-3:] == "600"


def test_a_storage_name_cannot_walk_out_of_the_folder(tmp_path):
    with pytest.raises(ValueError):
        Storage(tmp_path).path("../../etc/passwd")


def test_a_rolled_back_upload_leaves_no_file(tmp_path, session):
    storage = Storage(tmp_path)
    with pytest.raises(RuntimeError), transaction(session):
        name = storage.save_in(session, b"%PDF-")
        assert storage.path(name).exists()
        raise RuntimeError("the change fails")
    assert not storage.path(name).exists()


def test_a_replaced_file_is_removed_only_once_the_change_commits(tmp_path, session):
    storage = Storage(tmp_path)
    old = storage.save(b"old")
    with transaction(session):
        storage.delete_after_commit(session, old)
        assert storage.path(old).exists()
    assert not storage.path(old).exists()


def test_a_file_is_kept_when_the_change_dropping_it_rolls_back(tmp_path, session):
    storage = Storage(tmp_path)
    old = storage.save(b"old")
    with pytest.raises(RuntimeError), transaction(session):
        storage.delete_after_commit(session, old)
        raise RuntimeError("the change fails")
    with transaction(session):
        pass  # a later, unrelated commit must not remove it either
    assert storage.path(old).exists()
