"""The event bus: port, adapters (in-process, NATS JetStream, Kafka), relay and consumer runner."""
