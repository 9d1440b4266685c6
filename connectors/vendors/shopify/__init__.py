"""Everything Tillbridge knows about Shopify: `client`, `webhooks`, `polling`, `normalise` (pure),
`channel` (promotion, price and available-to-sell writes) and the source `adapter` built of them."""
