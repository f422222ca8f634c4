"""Audit event constants of the PKI."""

CA_INITIALISED = "pki.ca.initialised"
CA_IMPORTED = "pki.ca.imported"
CRL_PUBLISHED = "pki.crl.published"
ENROLMENT_REQUESTED = "pki.enrolment.requested"
ENROLMENT_REFUSED = "pki.enrolment.refused"  # a CSR that failed validation; nothing stored
ENROLMENT_APPROVED = "pki.enrolment.approved"
ENROLMENT_REJECTED = "pki.enrolment.rejected"
CERTIFICATE_ISSUED = "pki.certificate.issued"
CERTIFICATE_IMPORTED = "pki.certificate.imported"
CERTIFICATE_REVOKED = "pki.certificate.revoked"
PDF_SIGNED = "pki.pdf.signed"
