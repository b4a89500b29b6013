"""The events the payment path emits, with what each means to a merchant choosing webhooks."""

EVENTS = {
    "payment.authorized": "A payment was authorized; the funds are held until capture.",
    "payment.succeeded": "A sale was approved and captured.",
    "payment.failed": "A payment was declined or could not be processed.",
    "payment.captured": "An authorized payment was captured (fully or in part).",
    "payment.voided": "An authorized payment was voided before capture.",
    "payment.refunded": "A captured payment was refunded (fully or in part).",
    "payment.blocked": "A routing rule refused a payment before it reached a gateway.",
    "payment.review_required": "A routing rule flagged a payment for review.",
}
