import pytest

from portal.templatetags.portal_format import duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0, "0 s"), (59.4, "59 s"), (90, "1.5 min"), (5400, "1.5 h"), (172800, "2.0 d")],
)
def test_duration(seconds, text):
    assert duration(seconds) == text
