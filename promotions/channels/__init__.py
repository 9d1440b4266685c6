"""Channel adapters: push promotions, prices and available-to-sell to a sales channel and read back
what the channel really holds. `adapter_for(vendor)` is the only way in."""
