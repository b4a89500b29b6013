"""Disputes (chargebacks): what card holders contested, from Stripe's dispute webhooks and from
CSV exports of the other gateways; each marks its payment charged back, which feeds the merchant
account's health, and counts toward the card networks' monitoring programs."""
