"""Level 1 scanning of one file: size, real type, archive limits, YARA, and ClamAV when configured.

Pure Python, no Django: ``ecabinet.security.scanning`` builds a ``Scanner`` from the settings.
Every outcome is a ``Verdict``; nothing a file contains can make ``scan_path`` raise, except a
bug, which the fuzz tests look for.
"""

from __future__ import annotations

import io
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ecabinet.security.core import filetypes
from ecabinet.security.core.clamd import ClamdClient
from ecabinet.security.core.verdict import CLEAN, INFECTED, REFUSED, UNAVAILABLE, Finding, Refused, ScannerUnavailable, Verdict
from ecabinet.security.core.yara_rules import CompiledRules

MiB = 1024 * 1024
READ_CHUNK = MiB


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 200 * MiB
    max_entries: int = 10_000
    max_ratio: int = 100  # uncompressed / compressed, per member and for the whole archive
    max_total_bytes: int = 1024 * MiB  # uncompressed, all members of all nested archives together
    max_depth: int = 3  # archives inside archives; the outer file is depth 0
    max_member_bytes: int = 128 * MiB  # one member is read into memory to be scanned
    ratio_floor_bytes: int = MiB  # small members may compress very well (a blank page), so the ratio applies past this size


@dataclass
class _Walk:
    limits: Limits
    entries: int = 0
    total: int = 0
    findings: list[Finding] = field(default_factory=list)


ODF_MACRO_DIRS = ("basic/", "scripts/")
OOXML_MACRO_NAMES = {"vbaproject.bin", "vbadata.xml", "vbaprojectsignature.bin"}


def _check_member_name(name: str) -> None:
    # Zip-slip: a member that would land outside the folder it is extracted to.
    if "\x00" in name:
        raise Refused("archive_path", f"An archive member name contains NUL: {name!r}.")
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        raise Refused("archive_path", f"An archive member has an absolute path: {name!r}.")
    if ".." in PurePosixPath(normalised).parts:
        raise Refused("archive_path", f"An archive member climbs out of its folder: {name!r}.")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, walk: _Walk, where: str) -> bytes:
    # Declared sizes may lie; count what decompression really produces and stop at the limits.
    limits = walk.limits
    budget = min(limits.max_member_bytes, limits.max_total_bytes - walk.total)
    ratio_cap = max(limits.ratio_floor_bytes, info.compress_size * limits.max_ratio)
    out = io.BytesIO()
    size = 0
    with zf.open(info) as member:
        while chunk := member.read(READ_CHUNK):
            size += len(chunk)
            if size > ratio_cap:
                raise Refused("archive_bomb", f"{where} expands more than {limits.max_ratio} times its compressed size (a ZIP bomb).")
            if size > budget:
                if walk.total + size > limits.max_total_bytes:
                    raise Refused("archive_bomb", f"The archive expands to more than {limits.max_total_bytes // MiB} MiB.")
                raise Refused("archive_too_large", f"{where} is larger than {limits.max_member_bytes // MiB} MiB and cannot be inspected.")
            out.write(chunk)
    walk.total += size
    return out.getvalue()


def _walk_zip(stream: BinaryIO, rules: CompiledRules, walk: _Walk, *, depth: int, prefix: str, kind: str) -> None:
    limits = walk.limits
    try:
        zf = zipfile.ZipFile(stream)
    except filetypes.ZIP_ERRORS as exc:
        raise Refused("corrupt_file", f"{prefix or 'The archive'} is damaged ({type(exc).__name__}).") from None
    with zf:
        infos = zf.infolist()
        compressed = sum(i.compress_size for i in infos) or 1
        declared = sum(i.file_size for i in infos)
        if declared > max(limits.ratio_floor_bytes, compressed * limits.max_ratio):
            raise Refused("archive_bomb", f"{prefix or 'The archive'} declares {declared} bytes from {compressed} compressed (a ZIP bomb).")
        for info in infos:
            walk.entries += 1
            if walk.entries > limits.max_entries:
                raise Refused("archive_too_many_entries", f"The archive holds more than {limits.max_entries} members.")
            name = info.filename
            _check_member_name(name)
            where = f"{prefix}{name}"
            mode = info.external_attr >> 16
            if info.create_system == 3 and stat.S_ISLNK(mode):
                raise Refused("archive_link", f"The archive member {where!r} is a symbolic link.")
            if info.flag_bits & 0x1:
                raise Refused("archive_encrypted", f"The archive member {where!r} is encrypted and cannot be checked.")
            if info.is_dir():
                continue
            lowered = name.lower()
            if kind in (filetypes.DOCX, filetypes.XLSX, filetypes.PPTX) and PurePosixPath(lowered).name in OOXML_MACRO_NAMES:
                walk.findings.append(Finding("office", "macros", where, "block", "office_macros"))
            if kind in (filetypes.ODT, filetypes.ODS) and lowered.startswith(ODF_MACRO_DIRS):
                walk.findings.append(Finding("office", "macros", where, "block", "office_macros"))
            try:
                data = _read_member(zf, info, walk, where)
            except Refused:
                raise
            except filetypes.ZIP_ERRORS as exc:
                raise Refused("corrupt_file", f"The archive member {where!r} cannot be read ({type(exc).__name__}).") from None
            walk.findings.extend(rules.match_data(data, inner_path=where))
            if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
                if depth + 1 > limits.max_depth:
                    raise Refused("archive_too_deep", f"Archives are nested more than {limits.max_depth} deep ({where}).")
                _walk_zip(io.BytesIO(data), rules, walk, depth=depth + 1, prefix=f"{where}/", kind=filetypes.ZIP)


class Scanner:
    def __init__(self, *, rules: CompiledRules, clamd: ClamdClient | None = None, limits: Limits | None = None) -> None:
        self.rules = rules
        self.clamd = clamd
        self.limits = limits or Limits()

    def engines(self) -> dict[str, str]:
        engines = {"yara": self.rules.fingerprint}
        if self.clamd is not None:
            engines["clamav"] = self.clamd.url
        return engines

    def scan_path(self, path: Path, filename: str) -> Verdict:
        verdict = Verdict(status=CLEAN, engines=self.engines())
        try:
            self._scan(path, filename, verdict)
        except Refused as exc:
            verdict.status = REFUSED
            verdict.reason_code = exc.code
            verdict.message = exc.message
            return verdict
        except ScannerUnavailable as exc:
            verdict.status = UNAVAILABLE
            verdict.reason_code = "scanner_unavailable"
            verdict.message = f"The virus scanner is unavailable; the file is held until it answers. ({exc})"
            return verdict
        blocking = verdict.blocking
        if blocking:
            reasons = {f.reason or "malicious_content" for f in blocking}
            verdict.reason_code = "office_macros" if reasons == {"office_macros"} else "malicious_content"
            verdict.status = REFUSED if verdict.reason_code == "office_macros" else INFECTED
            names = ", ".join(sorted({f"{f.name}{' in ' + f.path if f.path else ''}" for f in blocking}))
            if verdict.reason_code == "office_macros":
                verdict.message = f"The document contains macros ({names}); save it without macros and upload again."
            else:
                verdict.message = f"Malicious content found: {names}. The file is quarantined."
        return verdict

    def _scan(self, path: Path, filename: str, verdict: Verdict) -> None:
        filetypes.clean_filename(filename)
        size = path.stat().st_size
        if size == 0:
            raise Refused("empty_file", "The file is empty.")
        if size > self.limits.max_bytes:
            raise Refused("file_too_large", f"The file is {size} bytes; the limit is {self.limits.max_bytes}.")
        with path.open("rb") as stream:
            kind = filetypes.check_type(stream, filename).kind
            verdict.kind = kind
            verdict.findings.extend(self.rules.match_file(str(path)))
            if kind in filetypes.ZIP_BASED:
                walk = _Walk(self.limits)
                _walk_zip(stream, self.rules, walk, depth=0, prefix="", kind=kind)
                verdict.findings.extend(walk.findings)
            if self.clamd is not None:
                result = self.clamd.scan_stream(stream)
                if result.infected:
                    verdict.findings.append(Finding("clamav", result.signature, "", "block", "malicious_content"))
