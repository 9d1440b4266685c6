"""A standard retail chart of accounts and the mapping of every posting role onto it, so a new
tenant posts end to end before anyone has imported their ERP's chart."""

from __future__ import annotations

from mappings.models import Account, PostingRole

# (code, name, type, parent code)
STANDARD_ACCOUNTS: list[tuple[str, str, str, str]] = [
    ("1000", "Cash and bank", Account.Type.ASSET, ""),
    ("1010", "Operating bank account", Account.Type.ASSET, "1000"),
    ("1100", "Payment clearing", Account.Type.ASSET, ""),
    ("1110", "Card payments clearing", Account.Type.ASSET, "1100"),
    ("1120", "Marketplace clearing", Account.Type.ASSET, "1100"),
    ("1200", "Vendor-funded promotions receivable", Account.Type.ASSET, ""),
    ("1300", "Payout reserves held", Account.Type.ASSET, ""),
    ("1900", "Payout suspense", Account.Type.ASSET, ""),
    ("2100", "Sales tax payable", Account.Type.LIABILITY, ""),
    ("2200", "Marketplace facilitator tax", Account.Type.LIABILITY, ""),
    ("2300", "Gift card liability", Account.Type.LIABILITY, ""),
    ("2400", "Return shipping payable", Account.Type.LIABILITY, ""),
    ("2500", "Refunds owed to customers", Account.Type.LIABILITY, ""),
    ("4000", "Sales", Account.Type.REVENUE, ""),
    ("4010", "Sales - apparel", Account.Type.REVENUE, "4000"),
    ("4020", "Sales - footwear", Account.Type.REVENUE, "4000"),
    ("4100", "Shipping income", Account.Type.REVENUE, ""),
    ("4500", "Discounts given", Account.Type.REVENUE, ""),
    ("4600", "Sales returns", Account.Type.REVENUE, ""),
    ("4700", "Restocking fees", Account.Type.REVENUE, ""),
    ("6100", "Merchant and marketplace fees", Account.Type.EXPENSE, ""),
    ("6200", "Payout adjustments", Account.Type.EXPENSE, ""),
    ("6300", "Return shipping", Account.Type.EXPENSE, ""),
    ("6900", "Rounding differences", Account.Type.EXPENSE, ""),
]

# (role, account code, conditions)
STANDARD_RULES: list[tuple[str, str, dict[str, str]]] = [
    (PostingRole.REVENUE, "4000", {}),
    (PostingRole.REVENUE, "4010", {"product_category": "apparel"}),
    (PostingRole.REVENUE, "4020", {"product_category": "footwear"}),
    (PostingRole.DISCOUNT, "4500", {}),
    (PostingRole.VENDOR_FUNDED_DISCOUNT_RECEIVABLE, "1200", {}),
    (PostingRole.TAX_PAYABLE, "2100", {}),
    (PostingRole.MARKETPLACE_TAX_COLLECTED, "2200", {}),
    (PostingRole.MARKETPLACE_TAX_REMITTED, "2200", {}),
    (PostingRole.SHIPPING_INCOME, "4100", {}),
    (PostingRole.PAYMENT_CLEARING, "1110", {}),
    (PostingRole.PAYMENT_CLEARING, "1120", {"gateway": "marketplace"}),
    (PostingRole.MERCHANT_FEES, "6100", {}),
    (PostingRole.REFUNDS, "4600", {}),
    (PostingRole.GIFT_CARD_LIABILITY, "2300", {}),
    (PostingRole.BANK, "1010", {}),
    (PostingRole.ROUNDING, "6900", {}),
    (PostingRole.RESERVE, "1300", {}),
    (PostingRole.PAYOUT_ADJUSTMENT, "6200", {}),
    (PostingRole.PAYOUT_SUSPENSE, "1900", {}),
    (PostingRole.RESTOCKING_FEES, "4700", {}),
    (PostingRole.RETURN_SHIPPING, "6300", {}),
    (PostingRole.RETURN_SHIPPING_PAYABLE, "2400", {}),
    (PostingRole.REFUNDS_OWED, "2500", {}),
]
