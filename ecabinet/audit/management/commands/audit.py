"""``ecabinet audit``: verify the log, sign a checkpoint, prove or check one entry, export, show the key."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ecabinet.audit import actions, checks, errors, proofs, signing
from ecabinet.audit.core import merkle, note, proof
from ecabinet.audit.filters import AuditFilter

EPILOG = "Run 'ecabinet audit SUBCOMMAND --help' for the options of one subcommand."


class Command(BaseCommand):
    help = "Audit log: verify the hash chain and signed checkpoints, sign a checkpoint, prove or check one entry, export, print the public key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.epilog = EPILOG
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

        verify = sub.add_parser(
            "verify",
            help="Walk the whole chain and every checkpoint; exit 1 naming the first bad entry",
            description="Recompute every entry hash and chain link from #0, check each checkpoint's signature and recompute "
            "the Merkle root for its size. Prints 'OK: …' and exits 0 when all holds; otherwise prints each problem and "
            "exits 1, naming the first bad entry by its seq.",
        )
        verify.add_argument("--max-problems", type=int, default=20, help="stop listing after this many problems (default 20)")
        verify.add_argument("--json", action="store_true", help="print the result as JSON")
        verify.add_argument("--no-record", action="store_true", help="do not append the result to the audit log (read-only replicas)")

        sub.add_parser(
            "checkpoint",
            help="Sign a checkpoint of the current log now (nothing new when no entry was added)",
            description="Check the entries added since the latest checkpoint, then sign the Merkle root of the whole log with "
            "the installation's Ed25519 key. The beat task 'audit-checkpoint' does the same periodically.",
        )

        prove = sub.add_parser(
            "proof",
            help="Print an inclusion proof of entry SEQ against the latest checkpoint (JSON)",
            description="Print a JSON document that proves entry SEQ is in the log the latest signed checkpoint commits to. "
            "Check it offline with 'ecabinet audit verify-proof FILE' or by hand (docs/audit.md).",
        )
        prove.add_argument("seq", type=int, help="the entry's sequence number (#0 is the first entry)")
        prove.add_argument("-o", "--output", help="write to this file instead of standard output")

        check = sub.add_parser(
            "verify-proof",
            help="Check an inclusion proof file offline; exit 1 if it does not hold",
            description="Check a proof made by 'ecabinet audit proof': the entry's leaf hash, the audit path to the root, and "
            "the checkpoint signature. Uses no database; the key is this installation's unless --pubkey is given.",
        )
        check.add_argument("file", help="the proof JSON file, or - for standard input")
        check.add_argument("--pubkey", help="the signer's public key (PEM), e.g. from 'ecabinet audit pubkey'")
        check.add_argument("--origin", help="the log origin the checkpoint must name (default: the one in the proof)")

        export = sub.add_parser(
            "export",
            help="Write the log as JSON lines: entries in seq order, then checkpoints",
            description="Write one JSON object per line: every matching entry exactly as hashed, then every signed checkpoint. "
            "The export itself is recorded in the audit log.",
        )
        export.add_argument("-o", "--output", help="write to this file instead of standard output")
        export.add_argument("--event", default="", help="only this event (a prefix such as identity.login matches its sub-events)")
        export.add_argument("--actor", default="", help="only entries whose actor's user name contains this")
        export.add_argument("--object-type", default="", help="only this object type, e.g. identity.user")
        export.add_argument("--object-id", default="", help="only this object id")

        pubkey = sub.add_parser(
            "pubkey",
            help="Print the checkpoint signing public key (PEM)",
            description="Print the public half of the installation's checkpoint signing key, to give to auditors.",
        )
        pubkey.add_argument("--vkey", action="store_true", help="print the signed-note verifier key (name+hash+key) instead of PEM")

    def handle(self, *args: Any, **options: Any) -> None:
        handler = getattr(self, "_" + options["subcommand"].replace("-", "_"))
        handler(options)

    def _write(self, text: str, output: str | None) -> None:
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stderr.write(f"written to {output}")
        else:
            self.stdout.write(text, ending="" if text.endswith("\n") else "\n")

    def _verify(self, options: dict[str, Any]) -> None:
        result = checks.full_verify(max_problems=max(1, options["max_problems"]))
        report = result.report
        if not options["no_record"]:
            actions.record_verification(report, channel="cli")
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "ok": report.ok,
                        "entries": report.entries,
                        "checkpoints": report.checkpoints,
                        "latest_checkpoint_size": report.latest_checkpoint_size,
                        "first_bad_seq": report.first_bad_seq,
                        "problems": [str(p) for p in report.problems],
                        "missing_guards": result.missing_guards,
                    },
                    indent=2,
                )
            )
        for name in result.missing_guards:
            self.stderr.write(f"WARNING: append-only trigger {name} is missing or disabled; run 'ecabinet migrate' to restore it")
        if report.ok:
            if not options["json"]:
                self.stdout.write(self.style.SUCCESS(report.summary()))
            return
        if not options["json"]:
            for problem in report.problems:
                self.stderr.write(f"  {problem}")
        raise CommandError(report.summary(), returncode=1)

    def _checkpoint(self, options: dict[str, Any]) -> None:
        try:
            checkpoint, created = actions.make_checkpoint()
        except errors.ChainBroken as exc:
            raise CommandError(f"no checkpoint signed: {exc.detail}", returncode=1)
        if checkpoint is None:
            self.stdout.write("The audit log is empty; nothing to sign.")
            return
        if created:
            self.stderr.write(self.style.SUCCESS(f"signed checkpoint of size {checkpoint.size}"))
        else:
            self.stderr.write(f"no entry since the checkpoint of size {checkpoint.size}; it still stands")
        self.stdout.write(checkpoint.note, ending="")

    def _proof(self, options: dict[str, Any]) -> None:
        try:
            bundle = proofs.inclusion_bundle(options["seq"])
        except errors.ECabinetError as exc:
            raise CommandError(exc.detail, returncode=1)
        self._write(json.dumps(bundle, indent=2, ensure_ascii=False) + "\n", options.get("output"))

    def _verify_proof(self, options: dict[str, Any]) -> None:
        source = options["file"]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
            bundle = json.loads(text)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read the proof: {exc}", returncode=2)
        try:
            key = signing.load_public_key_pem(Path(options["pubkey"]).read_bytes()) if options["pubkey"] else signing.public_key()
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read the public key: {exc}", returncode=2)
        try:
            checked = proof.check(bundle, key, origin=options["origin"])
        except (merkle.ProofError, note.NoteError) as exc:
            raise CommandError(f"proof does NOT hold: {exc}", returncode=1)
        self.stdout.write(
            self.style.SUCCESS(
                f"OK: entry #{checked.seq} ({checked.entry.get('event')}) is in the log of {checked.tree_size} entries "
                f"whose root {checked.root.hex()} {checked.origin} signed"
            )
        )

    def _export(self, options: dict[str, Any]) -> None:
        filters = AuditFilter.from_values(options)
        lines = actions.export_log(filters=filters, channel="cli")
        output = options.get("output")
        if output:
            with Path(output).open("wb") as handle:
                count = sum(handle.write(line) > 0 for line in lines)
            self.stderr.write(f"{count} lines written to {output}")
        else:
            for line in lines:
                self.stdout.write(line.decode("utf-8"), ending="")

    def _pubkey(self, options: dict[str, Any]) -> None:
        self.stdout.write(signing.verifier_key() if options["vkey"] else signing.public_key_pem(), ending="\n" if options["vkey"] else "")
