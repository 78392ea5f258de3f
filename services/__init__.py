"""The three services. They never import each other: they talk through Kafka events and HTTP only."""
