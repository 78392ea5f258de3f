"""Dispatch: the whistle (吹哨), units reporting in on the clock (报到), the escalation chain."""
