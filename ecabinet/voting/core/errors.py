"""Errors of the pure voting core; each carries the stable code the API answers with."""

from __future__ import annotations


class VotingCoreError(Exception):
    code = "ballot_malformed"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code


class BallotMalformed(VotingCoreError):
    code = "ballot_malformed"


class EvidenceDefect(VotingCoreError):
    code = "evidence_defect"
