"""Follow-up: the 24-hour return visit, the verdict that closes or reopens, scorecards and reports."""
