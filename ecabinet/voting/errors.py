"""Voting problem codes. Certificate problems keep the PKI's codes (certificate_revoked, …)."""

from __future__ import annotations

from ecabinet.errors import ECabinetError


class PollNotFound(ECabinetError):
    code = "poll_not_found"
    status = 404
    title = "No such poll"


class PollWrongState(ECabinetError):
    code = "poll_wrong_state"
    status = 409
    title = "The poll is not in a state that allows this"


class PollNotOpen(ECabinetError):
    code = "poll_not_open"
    status = 409
    title = "The poll is not open for ballots (not yet opened, or closed)"


class PollInvalid(ECabinetError):
    code = "poll_invalid"
    status = 422
    title = "The poll's definition is not valid"


class BallotMalformed(ECabinetError):
    code = "ballot_malformed"
    status = 400
    title = "The ballot is not a canonical ballot JSON"


class BallotWrongPoll(ECabinetError):
    code = "ballot_wrong_poll"
    status = 422
    title = "The ballot names another poll"


class QuestionChanged(ECabinetError):
    code = "ballot_question_mismatch"
    status = 422
    title = "The ballot was signed for a different question or options"


class ChoiceInvalid(ECabinetError):
    code = "ballot_choice_invalid"
    status = 422
    title = "The choice is not one of the poll's options"


class VoterMismatch(ECabinetError):
    code = "ballot_voter_mismatch"
    status = 422
    title = "The ballot, the certificate and the signed-in member do not name the same person"


class CertificateMismatch(ECabinetError):
    code = "ballot_certificate_mismatch"
    status = 422
    title = "The ballot names another certificate than the one that signed it"


class NotEligible(ECabinetError):
    code = "voter_not_eligible"
    status = 403
    title = "You are not among this poll's voters"


class AlreadyVoted(ECabinetError):
    code = "already_voted"
    status = 409
    title = "You have already voted and this poll does not allow changing a vote"


class NonceReplayed(ECabinetError):
    code = "ballot_replayed"
    status = 409
    title = "This ballot (its nonce) has been submitted before"


class StepUpRequired(ECabinetError):
    code = "step_up_required"
    status = 401
    title = "Confirm the ballot with a fresh one-time code"


class ReceiptNotFound(ECabinetError):
    code = "receipt_not_found"
    status = 404
    title = "No such ballot"


class SealUnavailable(ECabinetError):
    code = "seal_unavailable"
    status = 409
    title = "The government office has no signing seal; create one with 'ecabinet poll seal-init'"


class NothingToSign(ECabinetError):
    code = "nothing_to_sign"
    status = 409
    title = "There is no approved document to sign"
