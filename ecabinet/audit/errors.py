"""Problem codes of the audit log."""

from ecabinet.errors import ECabinetError, Forbidden, NotFound


class AuditAccessDenied(Forbidden):
    code = "audit_forbidden"
    title = "Only the security officer may read the audit log"


class EntryNotFound(NotFound):
    code = "audit_entry_not_found"
    title = "No audit entry has this sequence number"


class NoCheckpoint(ECabinetError):
    code = "audit_no_checkpoint"
    status = 404
    title = "No signed checkpoint exists yet"


class NotYetCheckpointed(ECabinetError):
    code = "audit_not_checkpointed"
    status = 409
    title = "The entry is newer than the latest signed checkpoint; ask again after the next one"


class ChainBroken(ECabinetError):
    code = "audit_chain_broken"
    status = 409
    title = "The audit log no longer matches its last signed checkpoint; nothing new was signed"


class SigningKeyUnavailable(ECabinetError):
    code = "audit_signing_key_unavailable"
    status = 500
    title = "The audit signing key cannot be read or created"
