"""Plumbing and contracts shared by the services: events, topics, settings, database, outbox/inbox, observability."""
