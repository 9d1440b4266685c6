"""Everything Tillbridge knows about Stripe: `client`, `webhooks`, `polling`, `normalise` (pure)
and the source `adapter` built of them. Stripe is not a sales channel: it has no `channel`."""
