"""The local stack without Docker: Kafka and PostgreSQL (``stack``), the three services (``services.py``)."""
