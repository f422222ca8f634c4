"""Test files the tests build themselves: EICAR in and out of archives, active PDFs, bombs, tricks.

The EICAR string is assembled at run time so this source file is not itself flagged by scanners.
"""

from __future__ import annotations

import io
import stat
import zipfile

import pikepdf

EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)" + "7}$EICAR-STANDARD-ANTIVIRUS-" + "TEST-FILE!$H+H*").encode()


def zip_of(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def eicar_zip() -> bytes:
    return zip_of({"readme.txt": b"harmless", "docs/eicar.com": EICAR})


def eicar_zip_in_zip() -> bytes:
    return zip_of({"inner.zip": eicar_zip(), "note.txt": b"outer"})


def zip_bomb(size: int = 50 * 1024 * 1024) -> bytes:
    # 50 MiB of zeros deflates to ~50 KiB: a ratio near 1000.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf, zf.open("zeros.bin", "w", force_zip64=True) as member:
        chunk = b"\x00" * (1024 * 1024)
        for _ in range(size // len(chunk)):
            member.write(chunk)
    return buf.getvalue()


def zip_slip() -> bytes:
    return zip_of({"../../etc/cron.d/evil": b"* * * * * root sh", "ok.txt": b"fine"})


def zip_absolute() -> bytes:
    return zip_of({"/etc/passwd": b"root:x:0:0"})


def zip_unknown_method() -> bytes:
    """A ZIP whose member names compression method 99, which zipfile cannot decode."""
    data = bytearray(zip_of({"report.txt": b"plain text"}, compression=zipfile.ZIP_STORED))
    local = data.index(b"PK\x03\x04")
    data[local + 8 : local + 10] = (99).to_bytes(2, "little")
    central = data.index(b"PK\x01\x02")
    data[central + 10 : central + 12] = (99).to_bytes(2, "little")
    return bytes(data)


def zip_symlink() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/shadow")
    return buf.getvalue()


def nested_zips(depth: int) -> bytes:
    data = zip_of({"deep.txt": b"bottom"})
    for level in range(depth):
        data = zip_of({f"level{level}.zip": data})
    return data


def pdf(pages: int = 1, text: str = "Tờ trình") -> bytes:
    doc = pikepdf.new()
    for _ in range(pages):
        doc.add_blank_page(page_size=(595, 842))
    doc.docinfo["/Title"] = text
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def pdf_with_javascript() -> bytes:
    doc = pikepdf.new()
    doc.add_blank_page()
    js = doc.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('owned');")))
    doc.Root.OpenAction = js
    doc.Root.Names = pikepdf.Dictionary(JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("init"), js])))
    launch = pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("cmd.exe"))
    annot = doc.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=pikepdf.Array([0, 0, 100, 100]), A=launch))
    uri = pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("file:///C:/Windows/System32/calc.exe"))
    annot2 = doc.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=pikepdf.Array([0, 0, 50, 50]), A=uri))
    web = pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://chinhphu.vn/"))
    annot3 = doc.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=pikepdf.Array([0, 0, 20, 20]), A=web))
    doc.pages[0].Annots = pikepdf.Array([annot, annot2, annot3])
    doc.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array(), XFA=pikepdf.String("<xdp/>"))
    doc.attachments["payload.exe"] = pikepdf.AttachedFileSpec(doc, b"MZ payload", filename="payload.exe")
    buf = io.BytesIO()
    # Uncompressed so the raw bytes show the names YARA looks for.
    doc.save(buf, compress_streams=False, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    return buf.getvalue()


def encrypted_pdf() -> bytes:
    doc = pikepdf.new()
    doc.add_blank_page()
    buf = io.BytesIO()
    doc.save(buf, encryption=pikepdf.Encryption(owner="owner-pw", user="user-pw", R=6))
    return buf.getvalue()


def corrupt_pdf() -> bytes:
    return b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" + b"\x00garbage" * 50 + b"\n%%EOF"


CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)


def docx(*, macros: bool = False) -> bytes:
    members = {
        "[Content_Types].xml": CONTENT_TYPES,
        "word/document.xml": '<w:document xmlns:w="x"><w:body><w:p><w:r><w:t>Dự thảo Nghị định</w:t></w:r></w:p></w:body></w:document>'.encode(),
    }
    if macros:
        members["word/vbaProject.bin"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"_VBA_PROJECT" + b"\x00" * 64
    return zip_of(members)


def odt() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), b"application/vnd.oasis.opendocument.text")
        zf.writestr("content.xml", b"<office:document-content/>")
    return buf.getvalue()


def png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


PHP_WEBSHELL = b"<?php if(isset($_GET['c'])){ system($_GET['c']); } ?>"
