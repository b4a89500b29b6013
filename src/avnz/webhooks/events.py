"""The events the webhooks domain emits itself."""

EVENTS = {
    "webhook.test": "A test event sent from the API or the dashboard.",
}
