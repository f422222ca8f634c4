"""The pure PKI core: no Django import, testable and auditable alone.

What other apps call (the voting app in particular):

- ``keys.Signer`` — anything that signs (file key today, PKCS#11 later); ``keys.KeySigner``,
  ``keys.FileKeySigner``.
- ``ca.build_root``, ``ca.build_issuing_ca``, ``ca.issue_member_certificate``,
  ``ca.issue_tsa_certificate``, ``ca.build_crl`` — certificate and CRL issuance.
- ``csr.parse_csr`` — accept a member device's PKCS#10 request (P-256, SHA-256, signature checked).
- ``check.check_certificate(cert, at=..., trust=TrustStore(...))`` — path to a trust anchor,
  validity at that moment, revocation at that moment.
- ``cms.detached_signed_data(content, signature, cert)`` — detached CMS SignedData around an
  existing ECDSA signature (``openssl cms -verify`` checks it); ``cms.verify_detached_signed_data``.
- ``pades.sign_pdf`` / ``pades.validate_pdf`` — PAdES B-LT with a time-stamp from ``tsa``.
"""
