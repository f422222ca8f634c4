"""``ecabinet pki init|import|status|crl``: set up, inspect and publish the certification authority."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ecabinet.errors import ECabinetError
from ecabinet.pki import actions, authority
from ecabinet.pki.models import Authority, EnrolmentRequest, MemberCertificate


class Command(BaseCommand):
    help = "Certification authority: init (own root + issuing CA + TSA), import (trust a government CA), status, crl (export the CRL)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        init = sub.add_parser("init", help="Create the installation's root CA, issuing CA and time-stamping authority")
        init.add_argument("--organisation", default="e-Cabinet", help="Organisation name in the CA certificates (default: e-Cabinet)")
        imp = sub.add_parser("import", help="Trust an existing government CA chain and its CRL instead of issuing here")
        imp.add_argument("--chain", required=True, type=Path, help="PEM file with the root and intermediate CA certificates")
        imp.add_argument("--crl", required=True, type=Path, action="append", help="CRL file (PEM or DER); repeat for several")
        status = sub.add_parser("status", help="Show the mode, authorities, CRL and certificate counts")
        status.add_argument("--json", action="store_true", help="Print JSON")
        crl = sub.add_parser("crl", help="Write the current CRL (DER) of the issuing CA")
        crl.add_argument("--out", required=True, type=Path, help="Where to write the CRL")
        crl.add_argument("--pem", action="store_true", help="Write PEM instead of DER")
        chain = sub.add_parser("chain", help="Write the CA chain (PEM) relying parties trust: ca.pem")
        chain.add_argument("--out", required=True, type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, "_" + options["action"])(options)
        except ECabinetError as exc:
            raise CommandError(exc.detail) from None

    def _init(self, options: dict[str, Any]) -> None:
        rows = actions.init_authority(organisation=options["organisation"])
        for name, row in rows.items():
            self.stdout.write(f"{name:8} {row.subject}  sha256:{row.fingerprint}")
        self.stdout.write(f"keys: {authority.key_dir()} (encrypted PKCS#8)")

    def _import(self, options: dict[str, Any]) -> None:
        try:
            chain = options["chain"].read_bytes()
            crls = [path.read_bytes() for path in options["crl"]]
        except OSError as exc:
            raise CommandError(f"cannot read {exc.filename}: {exc.strerror}") from None
        for row in actions.import_authority(chain=chain, crls=crls):
            self.stdout.write(f"{row.kind:22} {row.subject}  sha256:{row.fingerprint}")

    def _status(self, options: dict[str, Any]) -> None:
        mode = authority.mode()
        info: dict[str, Any] = {"mode": mode, "authorities": [], "crl": None}
        for row in Authority.objects.filter(active=True):
            info["authorities"].append(
                {"kind": row.kind, "subject": row.subject, "fingerprint": row.fingerprint, "not_after": row.not_after.isoformat(), "key": row.key_ref or None}
            )
        if mode != "uninitialised":
            try:
                crl = actions.current_crl()
                info["crl"] = {
                    "number": crl.number,
                    "this_update": crl.this_update.isoformat(),
                    "next_update": crl.next_update.isoformat() if crl.next_update else None,
                }
            except ECabinetError as exc:
                info["crl"] = {"error": exc.detail}
        info["certificates"] = {
            "valid": MemberCertificate.objects.filter(revoked_at__isnull=True).count(),
            "revoked": MemberCertificate.objects.filter(revoked_at__isnull=False).count(),
        }
        info["pending_requests"] = EnrolmentRequest.objects.filter(state=EnrolmentRequest.State.PENDING).count()
        if options["json"]:
            self.stdout.write(json.dumps(info, indent=2))
            return
        self.stdout.write(f"mode: {mode}")
        for item in info["authorities"]:
            self.stdout.write(f"  {item['kind']:22} {item['subject']}  until {item['not_after'][:10]}  sha256:{item['fingerprint'][:16]}…")
        if info["crl"]:
            self.stdout.write(f"crl: {info['crl']}")
        self.stdout.write(
            f"certificates: {info['certificates']['valid']} not revoked, {info['certificates']['revoked']} revoked; {info['pending_requests']} requests pending"
        )

    def _crl(self, options: dict[str, Any]) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        crl = actions.current_crl()
        data = bytes(crl.der)
        if options["pem"]:
            data = x509.load_der_x509_crl(data).public_bytes(serialization.Encoding.PEM)
        options["out"].write_bytes(data)
        self.stdout.write(f"CRL number {crl.number}, next update {crl.next_update}, written to {options['out']}")

    def _chain(self, options: dict[str, Any]) -> None:
        chain = authority.chain_pem()
        if not chain:
            raise CommandError("no CA is set up")
        options["out"].write_text(chain)
        self.stdout.write(f"CA chain written to {options['out']}")
