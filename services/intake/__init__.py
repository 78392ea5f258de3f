"""Intake: every channel in; one clean, enriched, classified complaint out."""
