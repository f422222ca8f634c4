"""``ecabinet documents import|export|rekey|rescan``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from ecabinet.documents import actions, blobs, errors, pipeline
from ecabinet.documents.core import crypto
from ecabinet.documents.models import Document, DocumentVersion
from ecabinet.errors import ECabinetError
from ecabinet.identity.models import Clearance, Role, User
from ecabinet.meetings.models import AgendaItem, Meeting
from ecabinet.security.scanning import current_rules

MAX_IMPORT_FILES = 10_000


class Command(BaseCommand):
    help = "Documents: import files into a meeting's dossier, export a stored file, re-wrap keys, rescan with new rules."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=argparse.ArgumentParser)
        imp = sub.add_parser("import", help="Import files or folders through the ingestion pipeline, one result line per file")
        imp.add_argument("paths", nargs="+", type=Path)
        imp.add_argument("--meeting", type=int, required=True, help="meeting id")
        imp.add_argument("--item", type=int, help="agenda item number (its order in the agenda) or id")
        imp.add_argument("--classification", default="internal", help="public, internal, confidential, secret, top_secret")
        imp.add_argument("--as-user", help="username of the secretary recorded as uploader (default: the meeting's creator)")
        imp.add_argument("--kind", default=Document.Kind.OTHER, choices=Document.Kind.values)
        exp = sub.add_parser("export", help="Write the stored (disarmed, decrypted) file after checking its hash")
        exp.add_argument("version_id", type=int)
        exp.add_argument("out", type=Path)
        sub.add_parser("rekey", help="Re-wrap every data key under the current master key (old keys in the keyring folder)")
        rescan = sub.add_parser("rescan", help="Scan stored files again (after a rules update); retry held and failed versions")
        rescan.add_argument("--all", action="store_true", help="every ready version, not only those scanned with other rules")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "import":
            self._import(options)
        elif action == "export":
            self._export(options["version_id"], options["out"])
        elif action == "rekey":
            counts = actions.rekey_all()
            self.stdout.write(f"re-wrapped {counts['rewrapped']} data keys; {counts['already_current']} were already under the current master key")
        elif action == "rescan":
            self._rescan(options["all"])

    # --- import ------------------------------------------------------------------------------

    def _files(self, paths: list[Path]) -> list[Path]:
        found: list[Path] = []
        for path in paths:
            if path.is_dir():
                for root, dirs, names in os.walk(path, followlinks=False):
                    dirs.sort()
                    found += [Path(root) / n for n in sorted(names) if not n.startswith(".")]
            elif path.is_file():
                found.append(path)
            else:
                raise CommandError(f"{path}: no such file or folder")
            if len(found) > MAX_IMPORT_FILES:
                raise CommandError(f"more than {MAX_IMPORT_FILES} files; import in smaller batches")
        return found

    def _import(self, options: dict[str, Any]) -> None:
        meeting = Meeting.objects.filter(pk=options["meeting"]).select_related("organisation").first()
        if meeting is None:
            raise CommandError(f"no meeting {options['meeting']}")
        item = None
        if options["item"] is not None:
            item = AgendaItem.objects.filter(Q(meeting=meeting) & (Q(order=options["item"]) | Q(pk=options["item"]))).order_by("-order").first()
            if item is None:
                raise CommandError(f"meeting {meeting.pk} has no agenda item {options['item']}")
        try:
            level = Clearance.from_name(options["classification"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if options["as_user"]:
            user = User.objects.filter(username=options["as_user"]).first()
            if user is None:
                raise CommandError(f"no user {options['as_user']}")
        else:
            user = meeting.created_by
        if user.role not in (Role.SECRETARY, Role.CHAIR, Role.ADMIN):
            raise CommandError(f"{user.username} is a {user.role}; imports are recorded under a secretary (use --as-user)")
        refused = 0
        for path in self._files(options["paths"]):
            line, ok = self._import_one(path, meeting=meeting, item=item, level=level, user=user, kind=options["kind"])
            refused += 0 if ok else 1
            self.stdout.write(line)
        if refused:
            raise CommandError(f"{refused} file(s) refused")

    def _import_one(self, path: Path, *, meeting: Meeting, item: AgendaItem | None, level: int, user: User, kind: str) -> tuple[str, bool]:
        title = path.stem.replace("_", " ").strip() or path.name
        try:
            with path.open("rb") as handle:
                version = actions.create_document(
                    acting_user=user,
                    stream=handle,
                    filename=path.name,
                    title=title[:500],
                    owner_organisation=user.organisation or meeting.organisation,
                    kind=kind,
                    classification=level,
                    meeting=meeting,
                    item=item,
                    inline=True,
                )
        except ECabinetError as exc:
            return f"REFUSED  {path}  {exc.code}: {exc.detail}", False
        except OSError as exc:
            return f"REFUSED  {path}  unreadable: {exc}", False
        pipeline.process_version(version.pk)
        version.refresh_from_db()
        if version.state == DocumentVersion.State.READY:
            removed = f"  removed: {', '.join(version.disarm_removed)}" if version.disarm_removed else ""
            pages = f"  {version.page_count} pages" if version.page_count else ""
            return f"READY    {path}  document {version.document_id} version {version.pk}{pages}{removed}", True
        return f"{version.state.upper():<8} {path}  {version.state_reason}: {version.state_message}", False

    # --- export, rescan ----------------------------------------------------------------------

    def _export(self, version_id: int, out: Path) -> None:
        version = DocumentVersion.objects.select_related("document", "stored").filter(pk=version_id).first()
        if version is None:
            raise CommandError(f"no version {version_id}")
        try:
            blob = actions.served_blob(version)
        except errors.VersionNotReady as exc:
            raise CommandError(f"version {version_id} is {version.state}; only ready versions are exported ({exc.detail})") from None
        if out.exists() and out.is_dir():
            out = out / version.filename
        try:
            with blobs.decrypted_copy(blob) as plain:
                tmp = out.with_name(out.name + ".part")
                with plain.open("rb") as src, tmp.open("wb") as dst:
                    while chunk := src.read(blobs.COPY_CHUNK):
                        dst.write(chunk)
                tmp.replace(out)
        except crypto.IntegrityError as exc:
            actions.report_integrity_failure(version, blob, exc)
            raise CommandError(f"document_integrity_failed: version {version_id} does not match its recorded SHA-256 ({exc}); not exported") from None
        except crypto.CryptoError as exc:
            raise CommandError(f"document_key_unavailable: {exc}") from None
        actions.record_read(version, acting_user=None, source_ip=None, export_path=str(out))
        self.stdout.write(f"{out}  {blob.plaintext_size} bytes  sha256 {blob.sha256}")

    def _rescan(self, everything: bool) -> None:
        fingerprint = current_rules().fingerprint
        ready = DocumentVersion.objects.filter(state=DocumentVersion.State.READY)
        if not everything:
            ready = ready.exclude(rules_fingerprint=fingerprint)
        unfinished = DocumentVersion.objects.filter(state__in=[DocumentVersion.State.QUEUED, DocumentVersion.State.HELD, DocumentVersion.State.FAILED])
        counts: dict[str, int] = {}
        for version_id in [*ready.values_list("pk", flat=True), *unfinished.values_list("pk", flat=True)]:
            state = pipeline.rescan_version(version_id)
            counts[state] = counts.get(state, 0) + 1
            if state != DocumentVersion.State.READY:
                version = DocumentVersion.objects.get(pk=version_id)
                self.stdout.write(f"{state.upper():<11} version {version_id}  {version.filename}  {version.state_reason} {version.state_message}".rstrip())
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "nothing to rescan"
        self.stdout.write(f"rules {fingerprint[:16]}: {summary}")
        if counts.get(DocumentVersion.State.QUARANTINED) or counts.get("integrity_failed"):
            raise CommandError("some stored files were quarantined or failed their integrity check; see the security alerts")
