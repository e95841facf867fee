"""Uploads land whole or not at all: a write that fails half-way (a full disk) leaves no truncated file."""

import errno
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

from atlanset_portal import storage as storage_module
from atlanset_portal.storage import AtomicFileSystemStorage
from atlanset_portal.uploads import stash_upload, stashed_upload


class FailingChunks(ContentFile):
    """Content whose second chunk never arrives: the disk filled up while it was written."""

    def chunks(self, chunk_size=None):
        yield b"%PDF-1.7 first part of the invoice"
        raise OSError(errno.ENOSPC, "No space left on device")


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def test_the_portal_stores_uploads_through_the_atomic_storage():
    assert isinstance(default_storage, AtomicFileSystemStorage)


def test_a_write_that_fails_half_way_leaves_no_file_behind(tmp_path):
    storage = AtomicFileSystemStorage(location=tmp_path)

    with pytest.raises(OSError, match="No space left"):
        storage.save("deals/7/invoice.pdf", FailingChunks(b"", name="invoice.pdf"))

    assert files_under(tmp_path) == []


def test_a_large_upload_spooled_to_a_temporary_file_is_copied_whole_or_not_at_all(tmp_path):
    """The media volume fills up while a 200 KB receipt, spooled to /tmp by Django, is copied into it."""
    storage = AtomicFileSystemStorage(location=tmp_path / "media")
    upload = TemporaryUploadedFile("receipt.jpg", "image/jpeg", 0, None)
    upload.write(b"\xff\xd8\xff" + b"x" * 200_000)
    upload.seek(0)
    upload.chunks = FailingChunks(b"").chunks

    with pytest.raises(OSError, match="No space left"):
        storage.save("receipts/receipt.jpg", upload)
    upload.close()

    assert files_under(tmp_path / "media") == []


def test_a_whole_file_is_saved_under_its_name_readable_and_never_over_another(tmp_path):
    storage = AtomicFileSystemStorage(location=tmp_path)

    first = storage.save("deals/7/invoice.pdf", SimpleUploadedFile("invoice.pdf", b"%PDF one"))
    second = storage.save("deals/7/invoice.pdf", SimpleUploadedFile("invoice.pdf", b"%PDF two"))

    assert first == "deals/7/invoice.pdf" and second != first
    assert storage.open(first).read() == b"%PDF one" and storage.open(second).read() == b"%PDF two"
    assert sorted(path.name for path in files_under(tmp_path)) == sorted(
        [Path(first).name, Path(second).name]
    )
    assert (tmp_path / first).stat().st_mode & 0o777 == 0o644


def test_a_stashed_import_file_is_whole_or_absent(settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    token = stash_upload(b"name;phone\n")
    assert stashed_upload(token).read_bytes() == b"name;phone\n"

    real_write_whole = storage_module.write_whole

    def full_disk(directory, chunks):
        return real_write_whole(directory, FailingChunks(b"").chunks())

    monkeypatch.setattr(storage_module, "write_whole", full_disk)
    with pytest.raises(OSError, match="No space left"):
        stash_upload(b"name;phone\n" * 1000)

    assert [path.name for path in files_under(tmp_path / "imports")] == [token]
