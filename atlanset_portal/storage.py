"""Uploaded files land whole or not at all.

Django's file storage writes an upload straight under its final name, chunk by chunk: a full disk or an
error half-way left a truncated proposal, invoice or receipt that the deal page then offered as the real
one. Here the bytes go to a temporary file next to their place first, are flushed to the disk, and only
then moved under the final name (a rename within one folder, which is atomic); on any failure the
temporary file is removed and the error goes on to the page, which saves nothing.
"""

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from django.core.files.storage import FileSystemStorage

TEMPORARY_PREFIX = ".upload-"
TEMPORARY_SUFFIX = ".part"


def write_whole(directory: Path | str, chunks: Iterable[bytes | str]) -> str:
    """Writes the chunks to a new temporary file in ``directory`` and returns its path; on any failure the
    file is removed and the error raised."""
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=TEMPORARY_PREFIX, suffix=TEMPORARY_SUFFIX)
    try:
        with os.fdopen(descriptor, "wb") as file:
            for chunk in chunks:
                file.write(chunk.encode() if isinstance(chunk, str) else chunk)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return temporary


class _WrittenFile:
    """A file already complete on disk: FileSystemStorage moves it into place instead of copying it."""

    def __init__(self, path: str) -> None:
        self.path = path

    def temporary_file_path(self) -> str:
        return self.path


class AtomicFileSystemStorage(FileSystemStorage):
    """The default storage (``STORAGES["default"]``): documents and receipts under ``MEDIA_ROOT``."""

    def _save(self, name, content):
        directory = Path(self.path(name)).parent
        directory.mkdir(parents=True, exist_ok=True)
        temporary = write_whole(directory, content.chunks())
        try:
            # Moved by a rename in the same folder; a name taken meanwhile makes the parent pick another.
            return super()._save(name, _WrittenFile(temporary))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)  # still there only if the move failed
