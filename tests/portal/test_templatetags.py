from decimal import Decimal

import pytest

from portal.templatetags.portal_format import duration, money


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0, "0 s"), (59.4, "59 s"), (90, "1.5 min"), (5400, "1.5 h"), (172800, "2.0 d")],
)
def test_duration(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (Decimal("80.0000"), "USD", "80.00"),
        (Decimal("3000.0000"), "JPY", "3000"),
        (Decimal("1.2340"), "KWD", "1.234"),
        (Decimal("0.1250"), "USD", "0.125"),  # a fraction of a cent is shown, not rounded away
        (None, "USD", ""),
        (Decimal("5.0000"), "dollars", "5.0000"),
    ],
)
def test_money_shows_the_currency_minor_unit(amount, currency, text):
    assert money(amount, currency) == text
