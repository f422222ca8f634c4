"""Problem codes of the documents app."""

from __future__ import annotations

from ecabinet.errors import Conflict, ECabinetError, PayloadTooLarge


class AboveElectronicLimit(ECabinetError):
    code = "classification_not_electronic"
    status = 422
    title = "Documents at this classification are kept on paper only"


class FileRefused(ECabinetError):
    """The upload breaks a rule checked before anything is stored (name, size, type)."""

    code = "file_refused"
    status = 422
    title = "The file was refused"


class EmptyFile(ECabinetError):
    code = "empty_file"
    status = 422
    title = "The file is empty"


class FileTooLarge(PayloadTooLarge):
    code = "file_too_large"
    title = "The file is larger than the upload limit"


class InvalidFilename(ECabinetError):
    code = "invalid_filename"
    status = 422
    title = "The file name is not acceptable"


class DuplicateVersion(Conflict):
    code = "duplicate_version"
    title = "This document already has a version with exactly this content"


class VersionNotReady(Conflict):
    code = "version_not_ready"
    title = "This version has not passed the security checks (or was refused)"


class IntegrityFailed(ECabinetError):
    code = "document_integrity_failed"
    status = 500
    title = "The stored file failed its integrity check and will not be served"


class KeyUnavailable(ECabinetError):
    code = "document_key_unavailable"
    status = 500
    title = "The key that encrypts this file is not available"


class AlreadyLinked(Conflict):
    code = "already_in_dossier"
    title = "The document is already in this meeting's dossier"


class RangeNotSatisfiable(ECabinetError):
    code = "range_not_satisfiable"
    status = 416
    title = "The requested byte range is outside the file"


class NoCopyOut(Conflict):
    code = "copy_not_out"
    title = "That copy is not handed out"


class CopyAlreadyOut(Conflict):
    code = "copy_already_out"
    title = "That copy is already handed out"


class RecordClosed(Conflict):
    code = "registry_record_closed"
    title = "The registry record is closed: its paper was archived or destroyed"


class ViewOnly(ECabinetError):
    """Confidential documents are read in the reader, never downloaded as files."""

    code = "view_only"
    status = 403
    title = "This document can only be read in the e-Cabinet reader"


class InvalidAnnotation(ECabinetError):
    code = "invalid_annotation"
    status = 422
    title = "The annotation is not valid"
