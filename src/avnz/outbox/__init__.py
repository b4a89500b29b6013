"""The outbox: domain events written in the caller's transaction, fed to webhooks and the bus."""
