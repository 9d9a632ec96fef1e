"""The storage contract, held by both backends: the local folder and S3-compatible object
storage (against moto's server on loopback). Pieces, avis, exports and backups only use
this interface, so web hosts can share nothing but the database and the bucket."""

from __future__ import annotations

import io

import pytest

from workflow.plumbing.s3 import S3Storage
from workflow.plumbing.storage import FileStore, Storage
from workflow.plumbing.storage_url import open_storage


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> FileStore:
    if request.param == "local":
        return open_storage(tmp_path / "store")
    return open_storage(request.getfixturevalue("s3_url"))


def test_a_saved_file_reads_back_whole_and_as_a_stream(store):
    name = store.save(b"%PDF-1.7 contenu")
    assert len(name) == 64 and set(name) <= set("0123456789abcdef")
    assert store.read(name) == b"%PDF-1.7 contenu"
    with store.open(name) as stream:
        assert stream.read(4) == b"%PDF" and stream.read() == b"-1.7 contenu"
    assert store.exists(name) and store.size(name) == 16


def test_a_large_file_goes_in_from_a_stream(store):
    data = bytes(range(256)) * (6 * 1024 * 1024 // 256)  # 6 Mo: more than one read
    name = store.save_file(io.BytesIO(data))
    assert store.size(name) == len(data) and store.read(name) == data


def test_names_lists_every_file_and_nothing_of_a_child_store(store):
    first, second = store.save(b"a"), store.save(b"b")
    exports = store.child("exports")
    hidden = exports.save(b"export")
    assert sorted(store.names()) == sorted([first, second])
    assert list(exports.names()) == [hidden] and exports.read(hidden) == b"export"


def test_a_file_put_under_its_own_name_replaces_it(store):
    name = "ab" * 32
    store.put(name, b"avant")
    store.put(name, b"apres")
    assert store.read(name) == b"apres"


def test_delete_removes_a_file_and_a_missing_one_is_not_an_error(store):
    name = store.save(b"x")
    store.delete(name)
    store.delete(name)
    assert not store.exists(name) and list(store.names()) == []
    with pytest.raises(FileNotFoundError):
        store.open(name)
    with pytest.raises(FileNotFoundError):
        store.size(name)


@pytest.mark.parametrize("hostile", ["../etc/passwd", "AB" * 32, "", "ab/cd", "a" * 200])
def test_a_name_that_is_not_ours_reaches_no_file(store, hostile):
    with pytest.raises(ValueError):
        store.open(hostile)
    with pytest.raises(ValueError):
        store.put(hostile, b"x")


def test_the_storage_url_chooses_the_backend(tmp_path):
    assert isinstance(open_storage(f"file://{tmp_path}/a"), Storage)
    assert open_storage(f"file://{tmp_path}/a").root == tmp_path / "a"
    assert open_storage(str(tmp_path / "b")).root == tmp_path / "b"
    s3 = open_storage("s3://seau/pieces/prod?endpoint_url=http://127.0.0.1:1&region=fr-par")
    assert isinstance(s3, S3Storage)
    assert (s3.bucket, s3.prefix, s3.client.meta.region_name) == ("seau", "pieces/prod/", "fr-par")
    assert s3.client.meta.endpoint_url == "http://127.0.0.1:1"
    with pytest.raises(ValueError):
        open_storage("ftp://ailleurs/")
