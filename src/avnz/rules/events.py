"""The events routing rules emit."""

EVENTS = {
    "routing.rule.notification": "A routing rule that matched a payment sends a notification.",
}
