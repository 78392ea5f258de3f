"""Kafka topic names. One topic per producing service; the key is the case id (or the household before a case, or
``account:<name>`` for an account's token revocation)."""

from __future__ import annotations

from dataclasses import dataclass

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names under an optional prefix, so a test run never shares topics with a demo run."""

    prefix: str = ""

    @property
    def complaints(self) -> str:
        """Produced by intake: ComplaintReported."""
        return f"{self.prefix}heating.intake.complaints"

    @property
    def cases(self) -> str:
        """Produced by dispatch: CaseOpened, CaseAssigned, AssignmentSignedIn, CaseResolved, ..."""
        return f"{self.prefix}heating.dispatch.cases"

    @property
    def followup(self) -> str:
        """Produced by followup: VisitScheduled, VisitRecorded, CaseClosed, CaseReopened."""
        return f"{self.prefix}heating.followup.verdicts"

    def all(self) -> tuple[str, ...]:
        return (self.complaints, self.cases, self.followup)

    @staticmethod
    def dlq(topic: str) -> str:
        return topic + DLQ_SUFFIX
