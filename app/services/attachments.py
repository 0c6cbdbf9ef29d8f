"""Files agents attach in the chat: checked (type by extension, size) and stored under the media
folder with a name of our own. The file name the agent gave is kept only as a label."""
import os
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from flask_babel import lazy_gettext as _l

from app.services import DomainError

# Extension -> MIME type we declare. What the browser claims is never trusted.
ALLOWED = {
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif",
    "ogg": "audio/ogg", "mp3": "audio/mpeg", "m4a": "audio/mp4", "aac": "audio/aac", "wav": "audio/wav",
    "mp4": "video/mp4",
    "pdf": "application/pdf", "txt": "text/plain", "csv": "text/csv", "zip": "application/zip",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}
# WhatsApp's own ceiling for media; documents could be larger there, but not through us.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
NAME_MAX = 120


def max_bytes() -> int:
    return int(os.environ.get("CHAT_MAX_UPLOAD_BYTES", DEFAULT_MAX_BYTES))


@dataclass(frozen=True)
class StoredFile:
    path: str  # relative to the media folder
    mime: str
    name: str  # the agent's file name, cleaned, for display and download only
    size: int

    @property
    def kind(self) -> str:
        major = self.mime.split("/", 1)[0]
        return major if major in ("image", "audio", "video") else "document"


def clean_name(filename: str) -> str:
    name = unicodedata.normalize("NFC", Path(filename.replace("\\", "/")).name)
    name = "".join(c for c in name if c.isprintable() and c not in '<>:"/\\|?*').strip(" .")
    return name[-NAME_MAX:] or "arquivo"


def store(stream, filename: str, media_dir: str) -> StoredFile:
    """Validate and store an upload; raises DomainError (nothing written) when refused."""
    name = clean_name(filename or "")
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in ALLOWED:
        raise DomainError(_l("This type of file cannot be sent."), 422)
    limit = max_bytes()
    relative = Path("outbound") / f"{secrets.token_hex(16)}.{ext}"
    target = Path(media_dir) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    try:
        with open(target, "xb") as out:
            while chunk := stream.read(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise DomainError(_l("The file is too big (at most %(mb)s MB).", mb=limit // (1024 * 1024)), 413)
                out.write(chunk)
        if size == 0:
            raise DomainError(_l("The file is empty."), 422)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return StoredFile(path=relative.as_posix(), mime=ALLOWED[ext], name=name, size=size)


def discard(stored: StoredFile, media_dir: str) -> None:
    """Remove a stored upload whose message was refused (nothing refers to it)."""
    (Path(media_dir) / stored.path).unlink(missing_ok=True)
