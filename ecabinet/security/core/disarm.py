"""Disarming: a PDF is rewritten by pikepdf (qpdf) without the parts that can act on the reader's
machine; other accepted types pass unchanged (office files with macros never get here: the scan
refuses them, because removing a VBA project means rewriting content types and relationships,
and a refused file with a clear reason is safer than a half-cleaned one).

Pure Python, no Django. Anything pikepdf cannot open or write is a refusal, never an exception.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pikepdf

from ecabinet.security.core import filetypes
from ecabinet.security.core.verdict import Refused

MAX_PAGES = 10_000
MAX_OBJECTS = 2_000_000
# Actions that run code, start programs, fetch or send data, or open embedded content.
DANGEROUS_ACTIONS = {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/GoToE", "/RichMediaExecute", "/Rendition", "/Movie", "/Sound"}
SAFE_URI_SCHEMES = ("http://", "https://", "mailto:")
ACTIVE_ANNOTATIONS = {"/FileAttachment", "/RichMedia", "/Screen", "/Movie", "/Sound", "/3D"}


@dataclass
class DisarmResult:
    changed: bool
    removed: list[str] = field(default_factory=list)
    page_count: int | None = None


def _name(value: Any) -> str:
    try:
        return str(value) if isinstance(value, pikepdf.Name) else ""
    except Exception:
        return ""


class _Cleaner:
    def __init__(self) -> None:
        self.removed: dict[str, int] = {}

    def note(self, what: str) -> None:
        self.removed[what] = self.removed.get(what, 0) + 1

    def clean_action(self, action: Any) -> bool:
        """True if the action is dangerous and was emptied."""
        if not isinstance(action, pikepdf.Dictionary):
            return False
        kind = _name(action.get("/S"))
        if kind in DANGEROUS_ACTIONS:
            self.note(f"{kind[1:]} action")
            for key in list(action.keys()):
                if key != "/Type":
                    del action[key]
            return True
        if kind == "/URI":
            uri = action.get("/URI")
            text = str(uri) if isinstance(uri, pikepdf.String) else ""
            if not text.lower().startswith(SAFE_URI_SCHEMES):
                self.note("URI action to a program or local file")
                for key in list(action.keys()):
                    if key != "/Type":
                        del action[key]
                return True
        return False

    def clean_dict(self, obj: pikepdf.Dictionary) -> None:
        if "/JS" in obj:
            del obj["/JS"]
            self.note("JavaScript")
        if "/XFA" in obj:
            del obj["/XFA"]
            self.note("XFA form")
        if "/AA" in obj:
            del obj["/AA"]
            self.note("automatic actions (AA)")
        if "/EF" in obj and _name(obj.get("/Type")) in ("/Filespec", ""):
            del obj["/EF"]
            self.note("embedded file")
        if "/A" in obj and self.clean_action(obj.get("/A")):
            del obj["/A"]
        self.clean_action(obj)
        if "/Next" in obj:
            nxt = obj.get("/Next")
            if isinstance(nxt, pikepdf.Dictionary) and self.clean_action(nxt):
                del obj["/Next"]

    def walk(self, pdf: pikepdf.Pdf) -> None:
        root = pdf.Root
        if "/OpenAction" in root:
            open_action = root.get("/OpenAction")
            # A plain destination (go to page N) is harmless; anything else opening the file is removed.
            if isinstance(open_action, pikepdf.Dictionary) and _name(open_action.get("/S")) != "/GoTo":
                del root["/OpenAction"]
                self.note("OpenAction")
        names = root.get("/Names")
        if isinstance(names, pikepdf.Dictionary):
            for key, label in (("/JavaScript", "document JavaScript"), ("/EmbeddedFiles", "embedded files")):
                if key in names:
                    del names[key]
                    self.note(label)
        for page in pdf.pages:
            annots = page.obj.get("/Annots")
            if isinstance(annots, pikepdf.Array):
                keep = pikepdf.Array()
                for annot in annots:
                    if isinstance(annot, pikepdf.Dictionary) and _name(annot.get("/Subtype")) in ACTIVE_ANNOTATIONS:
                        self.note(f"{_name(annot.get('/Subtype'))[1:]} annotation")
                        continue
                    keep.append(annot)
                if len(keep) != len(annots):
                    page.obj["/Annots"] = keep
        # Then every object, so actions reached any other way (outlines, form fields, /Next chains) go too.
        stack: list[Any] = list(pdf.objects)
        seen: set[tuple[int, int]] = set()
        steps = 0
        while stack:
            steps += 1
            if steps > MAX_OBJECTS:
                raise Refused("pdf_too_complex", "The PDF has too many objects to be checked.")
            obj = stack.pop()
            if isinstance(obj, pikepdf.Object) and obj.is_indirect:
                if obj.objgen in seen:
                    continue
                seen.add(obj.objgen)
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                target = obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj
                if _name(target.get("/Type")) == "/EmbeddedFile":
                    self.note("embedded file")
                self.clean_dict(target)
                for key in list(target.keys()):
                    child = target.get(key)
                    if isinstance(child, pikepdf.Dictionary | pikepdf.Array | pikepdf.Stream) and not (
                        isinstance(child, pikepdf.Object) and child.is_indirect and child.objgen in seen
                    ):
                        stack.append(child)
            elif isinstance(obj, pikepdf.Array):
                for child in obj:
                    if isinstance(child, pikepdf.Dictionary | pikepdf.Array | pikepdf.Stream):
                        stack.append(child)

    def summary(self) -> list[str]:
        return [f"{what} ×{count}" if count > 1 else what for what, count in sorted(self.removed.items())]


def _open(path: Path) -> pikepdf.Pdf:
    try:
        return pikepdf.open(path)
    except pikepdf.PasswordError:
        raise Refused("pdf_encrypted", "The PDF is protected by a password and cannot be checked; remove the password and upload it again.") from None
    except Exception as exc:
        raise Refused("corrupt_file", f"The PDF is damaged and cannot be read ({type(exc).__name__}).") from None


def pdf_page_count(path: Path) -> int:
    try:
        with _open(path) as pdf:
            return len(pdf.pages)
    except Refused:
        raise
    except Exception as exc:
        raise Refused("corrupt_file", f"The PDF's page tree cannot be read ({type(exc).__name__}).") from None


def disarm_pdf(src: Path, dst: Path) -> DisarmResult:
    pdf = _open(src)
    try:
        with pdf:
            encrypted = pdf.is_encrypted
            pages = len(pdf.pages)
            if pages == 0:
                raise Refused("corrupt_file", "The PDF has no pages.")
            if pages > MAX_PAGES:
                raise Refused("pdf_too_complex", f"The PDF has {pages} pages; the limit is {MAX_PAGES}.")
            cleaner = _Cleaner()
            cleaner.walk(pdf)
            acroform = pdf.Root.get("/AcroForm")
            if isinstance(acroform, pikepdf.Dictionary) and "/XFA" in acroform:
                del acroform["/XFA"]
                cleaner.note("XFA form")
            removed = cleaner.summary()
            if encrypted:
                removed.append("encryption with an empty password")
            # Small objects packed into object streams, not linearized: PDF.js checks the last page
            # before showing the first, and walking a flat page tree touches every page object.
            # Linearizing spreads those over the whole file (measured on a 300-page dossier: the
            # whole file fetched before page 1); packed, they sit in a few compressed streams and
            # page 1 needs ~7 % of the file (bench/ingest.py).
            pdf.save(dst, object_stream_mode=pikepdf.ObjectStreamMode.generate, fix_metadata_version=False)
    except Refused:
        raise
    except Exception as exc:
        raise Refused("corrupt_file", f"The PDF could not be rewritten safely ({type(exc).__name__}).") from None
    # Parsing the output again is not redundant: on some damaged inputs qpdf repairs what it reads
    # but writes a file it cannot open itself (found by test_fuzz); such a file is refused here.
    return DisarmResult(changed=True, removed=removed, page_count=pdf_page_count(dst))


def disarm(kind: str, src: Path, dst: Path) -> DisarmResult:
    """Write the disarmed file to ``dst``; raise ``Refused`` for a file that cannot be made safe."""
    if kind == filetypes.PDF:
        return disarm_pdf(src, dst)
    shutil.copyfile(src, dst)
    return DisarmResult(changed=False)
