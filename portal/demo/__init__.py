"""The demo (`manage.py seed_demo`): partner, tenants, people and a month of data in every app.

Portal is the top layer, so the demo may use every app: `seed.py` orchestrates, and one module per
app seeds that app's part (`commerce.py` inventory, `posting.py` ledger, `promotions.py`,
`triage.py` exceptions) through the app's services."""
