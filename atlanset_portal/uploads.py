"""Files kept between an import's preview and its confirmation, outside any public URL."""

import uuid
from pathlib import Path

from django.conf import settings


def _folder() -> Path:
    folder = Path(settings.VAR_DIR) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def stash_upload(data: bytes) -> str:
    """Keeps the uploaded bytes and returns the token that finds them again."""
    token = uuid.uuid4().hex
    (_folder() / token).write_bytes(data)
    return token


def stashed_upload(token: str) -> Path | None:
    """The stashed file of a token the session handed out, or None if it is gone."""
    if not token or not token.isalnum():
        return None
    path = _folder() / token
    return path if path.exists() else None
