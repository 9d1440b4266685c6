import datetime as dt

import pytest
from django import forms

from core.api.filters import UtcIsoDateTimeField


def test_a_moment_is_turned_to_utc_whatever_its_offset():
    field = UtcIsoDateTimeField()
    # +17:51 is ISO 8601 but beyond what PostgreSQL accepts as an offset: sent as is, it was a 500.
    assert field.clean("0496-05-30T06:26:32+17:51") == dt.datetime(496, 5, 29, 12, 35, 32, tzinfo=dt.UTC)
    assert field.clean("2026-03-14T15:30:00Z") == dt.datetime(2026, 3, 14, 15, 30, tzinfo=dt.UTC)
    assert field.clean("2026-03-14T10:30:00-05:00") == dt.datetime(2026, 3, 14, 15, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "yesterday", "2026-13-01T00:00:00Z"])
def test_a_moment_out_of_range_or_not_a_moment_is_invalid(value):
    with pytest.raises(forms.ValidationError):
        UtcIsoDateTimeField().clean(value)
