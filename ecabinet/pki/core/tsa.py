"""The installation's own RFC 3161 time-stamping authority, in process.

pyHanko's ``DummyTimeStamper`` signs with RSA only; this one answers the same requests with the
installation's ECDSA TSA key through the :class:`Signer` interface (so it can live in an HSM too).
Its certificate is issued by the installation CA with the critical timeStamping EKU.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.timestamps.api import TimeStamper

from ecabinet.pki.core.keys import Signer

ANY_POLICY = "2.5.29.32.0"
_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def _asn1(cert: x509.Certificate) -> ax509.Certificate:
    return ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


class InstallationTimeStamper(TimeStamper):
    def __init__(self, signer: Signer, certificate: x509.Certificate, chain: list[x509.Certificate], *, policy_oid: str = ANY_POLICY) -> None:
        super().__init__(include_nonce=True)
        self.signer = signer
        self.certificate = _asn1(certificate)
        self.chain = [_asn1(c) for c in chain]
        self.policy_oid = policy_oid

    def respond(self, req: tsp.TimeStampReq, *, at: datetime | None = None) -> tsp.TimeStampResp:
        imprint: tsp.MessageImprint = req["message_imprint"]
        md_name = imprint["hash_algorithm"]["algorithm"].native
        if md_name not in _HASHES:
            status = tsp.PKIStatusInfo({"status": tsp.PKIStatus("rejection"), "fail_info": tsp.PKIFailureInfo({"bad_alg"})})
            return tsp.TimeStampResp({"status": status})
        digest = algos.DigestAlgorithm({"algorithm": md_name})
        gen_time = (at or datetime.now(UTC)).astimezone(UTC)
        tst_fields = {
            "version": "v1",
            "policy": tsp.ObjectIdentifier(self.policy_oid),
            "message_imprint": imprint,
            "serial_number": secrets.randbits(127),
            "gen_time": gen_time,
            "tsa": ax509.GeneralName(name="directory_name", value=self.certificate.subject),
        }
        if req["nonce"].native is not None:
            tst_fields["nonce"] = req["nonce"]
        tst_info = tsp.TSTInfo(tst_fields).dump()
        hash_algorithm = _HASHES[md_name]()
        hasher = hashes.Hash(hash_algorithm)
        hasher.update(tst_info)
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(gen_time)})),
                simple_cms_attribute("signing_certificate_v2", as_signing_certificate_v2(self.certificate)),
                simple_cms_attribute("message_digest", hasher.finalize()),
            ]
        )
        signature = self.signer.sign(signed_attrs.dump(), hash_algorithm)
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                            {"issuer": self.certificate.issuer, "serial_number": self.certificate.serial_number}
                        )
                    }
                ),
                "digest_algorithm": digest,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": f"{md_name}_ecdsa"}),
                "signed_attrs": signed_attrs,
                "signature": signature,
            }
        )
        signed_data = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": cms.DigestAlgorithms((digest,)),
                "encap_content_info": cms.EncapsulatedContentInfo({"content_type": "tst_info", "content": cms.ParsableOctetString(tst_info)}),
                "certificates": [self.certificate, *self.chain],
                "signer_infos": [signer_info],
            }
        )
        token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
        return tsp.TimeStampResp({"status": tsp.PKIStatusInfo({"status": tsp.PKIStatus("granted")}), "time_stamp_token": token})

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return self.respond(req)
