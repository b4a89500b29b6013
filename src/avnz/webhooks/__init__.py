"""Merchant webhooks: endpoints per company, and signed deliveries of outbox events to them."""
