"""The chaos test: a private stack, the simulator's load, kill -9 of every service, a broker and a database restart,
then a reconciliation through the APIs and an audit of the databases (``python -m deploy.chaos``)."""
