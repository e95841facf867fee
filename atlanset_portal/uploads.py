"""Uploads: how large a request each page that takes a file accepts, and the files kept between an
import's preview and its confirmation, outside any public URL."""

import os
import uuid
from pathlib import Path

from django.conf import settings

# Room for the rest of an upload form around its file: the other fields and the multipart boundaries.
FORM_ALLOWANCE_BYTES = 1024 * 1024


def upload_file_limits() -> dict[str, int]:
    """The largest file each page that takes one accepts, by URL name; each rule keeps its own limit.

    A request to one of these pages may be this plus ``FORM_ALLOWANCE_BYTES``, so a file a little too
    large still gets the form's own message; every other request ``DATA_UPLOAD_MAX_MEMORY_SIZE``
    (``atlanset_portal.middleware.RequestBodyLimitMiddleware`` answers 413 before reading more).
    """
    from compensation.bank_statement import MAX_STATEMENT_BYTES
    from deals.lead_import import MAX_FILE_SIZE as LEAD_LIST_MAX_BYTES
    from deals.services import MAX_UPLOAD_BYTES as DOCUMENT_MAX_BYTES
    from kpi.telephony import MAX_FILE_SIZE as CALL_LOG_MAX_BYTES

    return {
        "deals:proposal": DOCUMENT_MAX_BYTES,
        "deals:document": DOCUMENT_MAX_BYTES,
        "compensation:expenses": DOCUMENT_MAX_BYTES,  # receipts
        "clients:import": LEAD_LIST_MAX_BYTES,
        "kpi:call_import": CALL_LOG_MAX_BYTES,
        "compensation:bank_import": MAX_STATEMENT_BYTES,
    }


def _folder() -> Path:
    folder = Path(settings.VAR_DIR) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def stash_upload(data: bytes) -> str:
    """Keeps the uploaded bytes and returns the token that finds them again. The file appears under its
    token whole or not at all: a full disk leaves nothing behind (the error goes on to the page)."""
    from .storage import write_whole

    token = uuid.uuid4().hex
    folder = _folder()
    temporary = write_whole(folder, [data])
    try:
        os.replace(temporary, folder / token)
    except BaseException:
        os.unlink(temporary)
        raise
    return token


def stashed_upload(token: str) -> Path | None:
    """The stashed file of a token the session handed out, or None if it is gone."""
    if not token or not token.isalnum():
        return None
    path = _folder() / token
    return path if path.exists() else None
