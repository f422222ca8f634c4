"""The real type of a file from its content, and whether it matches the name it came with.

Pure Python, no Django. The allowed list is short and every type on it is told apart by a few
bytes or, for the ZIP-based office formats, by the parts the archive holds; that is all the
sniffing needed, so no libmagic (a C library and a database to keep in step) is required.
"""

from __future__ import annotations

import codecs
import lzma
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from ecabinet.security.core.verdict import Refused

PDF = "pdf"
DOCX = "docx"
XLSX = "xlsx"
PPTX = "pptx"
ODT = "odt"
ODS = "ods"
PNG = "png"
JPEG = "jpeg"
TIFF = "tiff"
TXT = "txt"
ZIP = "zip"

MIME_TYPES: dict[str, str] = {
    PDF: "application/pdf",
    DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ODT: "application/vnd.oasis.opendocument.text",
    ODS: "application/vnd.oasis.opendocument.spreadsheet",
    PNG: "image/png",
    JPEG: "image/jpeg",
    TIFF: "image/tiff",
    TXT: "text/plain; charset=utf-8",
    ZIP: "application/zip",
}

EXTENSIONS: dict[str, str] = {
    ".pdf": PDF,
    ".docx": DOCX,
    ".xlsx": XLSX,
    ".pptx": PPTX,
    ".odt": ODT,
    ".ods": ODS,
    ".png": PNG,
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".tif": TIFF,
    ".tiff": TIFF,
    ".txt": TXT,
    ".zip": ZIP,
}

OOXML_MAIN_PARTS = {"word/document.xml": DOCX, "xl/workbook.xml": XLSX, "ppt/presentation.xml": PPTX}
ODF_MIMETYPES = {b"application/vnd.oasis.opendocument.text": ODT, b"application/vnd.oasis.opendocument.spreadsheet": ODS}
ZIP_BASED = frozenset({DOCX, XLSX, PPTX, ODT, ODS, ZIP})

MAX_NAME_BYTES = 255
# What reading a damaged archive can raise, from the zipfile module and the decompressors under it.
# zipfile answers a member whose compression method it cannot decode with Python's built-in
# "not implemented" exception; here that means "refuse this archive" (test_scan: method99.zip).
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, OSError, EOFError, ValueError, NotImplementedError, KeyError, RuntimeError)


@dataclass(frozen=True)
class SniffResult:
    kind: str

    @property
    def mime_type(self) -> str:
        return MIME_TYPES[self.kind]


def clean_filename(name: str) -> str:
    """The name as given, or a refusal: no paths, no control characters, not too long.

    Names are refused rather than silently rewritten so the uploader sees why, and so a name that
    tries to climb out of a folder never reaches code that might join it onto one.
    """
    if not name or not name.strip():
        raise Refused("invalid_filename", "The file has no name.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise Refused("invalid_filename", "The file name contains control characters (for example NUL).")
    if "/" in name or "\\" in name:
        raise Refused("invalid_filename", "The file name must not contain a path (/ or \\).")
    if name.strip() in (".", "..") or name.startswith("~"):
        raise Refused("invalid_filename", "The file name is not a plain name.")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise Refused("invalid_filename", f"The file name is longer than {MAX_NAME_BYTES} bytes.")
    if len(name) >= 2 and name[1] == ":":
        raise Refused("invalid_filename", "The file name must not start with a drive letter.")
    return name.strip()


def kind_from_name(name: str) -> str:
    suffix = PurePosixPath(name.lower()).suffix
    kind = EXTENSIONS.get(suffix)
    if kind is None:
        allowed = ", ".join(sorted(EXTENSIONS))
        raise Refused("unsupported_type", f"Files ending in {suffix or '(no extension)'} are not accepted; allowed: {allowed}.")
    return kind


def _looks_like_text(stream: BinaryIO) -> bool:
    # UTF-8 (with or without BOM) or UTF-16 with a BOM, no NUL in UTF-8 text, read incrementally.
    stream.seek(0)
    head = stream.read(4)
    stream.seek(0)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        decoder: codecs.IncrementalDecoder = codecs.getincrementaldecoder("utf-16")()
        nul_allowed = True
    else:
        decoder = codecs.getincrementaldecoder("utf-8-sig")()
        nul_allowed = False
    try:
        while chunk := stream.read(1024 * 1024):
            if not nul_allowed and b"\x00" in chunk:
                return False
            text = decoder.decode(chunk)
            if any(ord(ch) < 32 and ch not in "\t\n\r\f\v" for ch in text):
                return False
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _zip_kind(stream: BinaryIO) -> str:
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as zf:
            names = set(zf.namelist())
            if "mimetype" in names:
                info = zf.getinfo("mimetype")
                if info.file_size <= 100:
                    odf = ODF_MIMETYPES.get(zf.read(info).strip())
                    if odf is not None:
                        return odf
            if "[Content_Types].xml" in names:
                for part, kind in OOXML_MAIN_PARTS.items():
                    if part in names:
                        return kind
            return ZIP
    except ZIP_ERRORS as exc:
        raise Refused("corrupt_file", f"The archive is damaged or not a ZIP file ({type(exc).__name__}).") from None


def sniff(stream: BinaryIO) -> SniffResult:
    """The type the bytes really are, or a refusal if it is none of the accepted ones."""
    stream.seek(0)
    head = stream.read(1024)
    if not head:
        raise Refused("empty_file", "The file is empty.")
    # Fixed signatures at offset 0 first: a polyglot (a PNG carrying a PDF) is what its first bytes say.
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = PNG
    elif head.startswith(b"\xff\xd8\xff"):
        kind = JPEG
    elif head.startswith((b"II*\x00", b"MM\x00*")):
        kind = TIFF
    elif head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        kind = _zip_kind(stream)
    elif b"%PDF-" in head:
        kind = PDF
    elif _looks_like_text(stream):
        kind = TXT
    else:
        raise Refused("unsupported_type", "The content is not one of the accepted types (PDF, office documents, images, plain text, ZIP).")
    stream.seek(0)
    return SniffResult(kind)


def check_type(stream: BinaryIO, filename: str) -> SniffResult:
    """The real type must be accepted and agree with the extension: a renamed file is refused."""
    declared = kind_from_name(filename)
    found = sniff(stream)
    if found.kind != declared:
        raise Refused(
            "type_mismatch",
            f"The name says {declared.upper()} but the content is {found.kind.upper()}; rename or convert the file.",
            declared=declared,
            detected=found.kind,
        )
    return found
