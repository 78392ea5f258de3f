"""Kafka plumbing of a service: subscribers and their offset commits, topics, consumer lag."""
