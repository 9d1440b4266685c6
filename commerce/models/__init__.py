"""The canonical retail model (tenant schema). Every source row keeps its connection, external id,
source version and the raw inbound event behind it; amounts are in the order's (shop's) currency."""

from commerce.models.fulfilment import FulfilmentPolicy, FulfilmentRequest, RoutingRule  # noqa: F401
from commerce.models.inventory import (  # noqa: F401
    QUANTITY,
    ChannelLocation,
    ChannelSku,
    ChannelStock,
    InventoryLevel,
    InventoryLocation,
    Reservation,
    SafetyStock,
    StockChange,
    StockSync,
)
from commerce.models.returns import Return, ReturnEvent, ReturnLine, ReturnPolicy  # noqa: F401
from commerce.models.sales import (  # noqa: F401
    MONEY,
    CollectedBy,
    DiscountAllocation,
    Fulfilment,
    FulfilmentLine,
    Funding,
    Order,
    OrderLine,
    Payment,
    Payout,
    PayoutLine,
    Refund,
    RefundLine,
    ShippingLine,
    SourceDocument,
    TaxLine,
)
