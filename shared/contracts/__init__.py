"""Event contracts: the only thing the services share about each other. One module per producing service."""

from shared.contracts import dispatch, followup, intake  # noqa: F401  (registers every event type)
