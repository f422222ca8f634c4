"""Audit event constants of the voting app."""

POLL_CREATED = "voting.poll.created"
POLL_OPENED = "voting.poll.opened"
POLL_CLOSED = "voting.poll.closed"
BALLOT_CAST = "voting.ballot.cast"  # details: ballot_sha256, poll, voter, choice, certificate
BALLOT_REFUSED = "voting.ballot.refused"  # details: code, poll, ballot_sha256; nothing else stored
EVIDENCE_EXPORTED = "voting.evidence.exported"
SEAL_CREATED = "voting.seal.created"
DOCUMENT_SIGNED = "voting.document.signed"

# Live event kinds on the meeting channel.
LIVE_OPENED = "poll.opened"
LIVE_BALLOT = "poll.ballot"
LIVE_CLOSED = "poll.closed"
