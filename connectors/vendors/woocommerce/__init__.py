"""Everything Tillbridge knows about WooCommerce: `client`, `webhooks`, `polling`, `normalise` (pure),
`channel` (promotion, price and available-to-sell writes) and the source `adapter` built of them."""
