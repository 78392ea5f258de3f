"""Notifications: the whistle reaches people. Events of the cases and verdicts topics become rows (what, to whom,
which channel, state) that a delivery job sends through channel adapters (``channels``)."""
