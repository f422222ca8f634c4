"""``ecabinet poll list|show|evidence|verify|close-due|seal-init``: polls, their evidence, the office seal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ecabinet.errors import ECabinetError
from ecabinet.identity.models import User
from ecabinet.voting import actions, decisions, evidence
from ecabinet.voting.core import evidence as evidence_core
from ecabinet.voting.models import Poll


class Command(BaseCommand):
    help = "Polls: list, show, evidence POLL_ID DIR (export for openssl), verify DIR (check an evidence folder), close-due, seal-init."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        listing = sub.add_parser("list", help="Every poll: id, meeting or consultation, question, state, result")
        listing.add_argument("--json", action="store_true", help="Print JSON lines")
        show = sub.add_parser("show", help="One poll with its signed result")
        show.add_argument("poll_id", type=int)
        export = sub.add_parser("evidence", help="Write a closed poll's evidence folder (ballots .json/.p7s, ca.pem, CRLs, signed result, README)")
        export.add_argument("poll_id", type=int)
        export.add_argument("dir", type=Path)
        verify = sub.add_parser("verify", help="Check an evidence folder offline; exit 1 on any defect")
        verify.add_argument("dir", type=Path)
        verify.add_argument("--json", action="store_true", help="Print the report as JSON")
        sub.add_parser("close-due", help="Close every open poll whose deadline has passed (what the scheduler does each minute)")
        seal = sub.add_parser("seal-init", help="Create the government office's seal (key + certificate) that signs decisions and minutes")
        seal.add_argument("--username", required=True, help="the office secretary or administrator who holds it in custody")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, "_" + options["action"].replace("-", "_"))(options)
        except ECabinetError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from None

    def _list(self, options: dict[str, Any]) -> None:
        for poll in Poll.objects.select_related("meeting", "item").order_by("pk"):
            tally = (poll.result or {}).get("tally") or {}
            where = f"meeting {poll.meeting_id} item {poll.item_id}" if poll.meeting_id else f"consultation until {poll.deadline:%Y-%m-%d %H:%M}"
            if options["json"]:
                row = {"id": poll.pk, "kind": poll.kind, "meeting": poll.meeting_id, "item": poll.item_id, "question": poll.question, "state": poll.state}
                self.stdout.write(json.dumps({**row, "outcome": tally.get("outcome"), "counts": tally.get("counts")}, ensure_ascii=False))
            else:
                result = f"{tally.get('outcome')} {json.dumps(tally.get('counts'))}" if tally else "-"
                self.stdout.write(f"{poll.pk:>5}  {where:<32}  {poll.state:<7}  {result}  {poll.question[:70]}")

    def _show(self, options: dict[str, Any]) -> None:
        poll = Poll.objects.filter(pk=options["poll_id"]).first()
        if poll is None:
            raise CommandError(f"no poll {options['poll_id']}")
        self.stdout.write(json.dumps({"id": poll.pk, "state": poll.state, "statement": poll.statement, "result": poll.result}, ensure_ascii=False, indent=2))

    def _evidence(self, options: dict[str, Any]) -> None:
        poll = Poll.objects.filter(pk=options["poll_id"]).first()
        if poll is None:
            raise CommandError(f"no poll {options['poll_id']}")
        files = evidence.export(poll, channel="cli")
        evidence.write_folder(files, options["dir"])
        ballots = sum(1 for name in files if name.endswith(".p7s"))
        self.stdout.write(f"{ballots} ballots and {len(files) - 2 * ballots} other files written to {options['dir']}; see README.txt there")

    def _verify(self, options: dict[str, Any]) -> None:
        folder: Path = options["dir"]
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder")
        report = evidence_core.verify_folder(folder)
        if options["json"]:
            body = {
                "ok": report.ok,
                "poll": report.poll,
                "ballots": report.ballots,
                "counted": report.counted,
                "tally": report.tally,
                "problems": report.problems,
            }
            self.stdout.write(json.dumps(body, ensure_ascii=False))
        else:
            for problem in report.problems:
                self.stdout.write(f"DEFECT: {problem}")
            if report.ok and report.tally is not None:
                tally = report.tally
                self.stdout.write(
                    f"OK: poll {report.poll}: {report.ballots} ballots verified ({report.counted} counted), "
                    f"outcome {tally['outcome']} {json.dumps(tally['counts'])}, result signature valid"
                )
        if not report.ok:
            raise SystemExit(1)

    def _close_due(self, options: dict[str, Any]) -> None:
        closed = actions.close_due_polls()
        self.stdout.write(f"closed: {closed}" if closed else "no poll was due")

    def _seal_init(self, options: dict[str, Any]) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']}")
        seal = decisions.create_office_seal(acting_user=user)
        self.stdout.write(f"office seal created: certificate sha256:{seal.certificate.fingerprint} (key {seal.key_file}, encrypted)")
