import pytest
from django.http import Http404

from core.views import found_or_404


def test_found_or_404_returns_what_was_found():
    found = object()
    assert found_or_404(found, "No such thing.") is found


def test_found_or_404_keeps_falsy_answers_that_are_not_none():
    assert found_or_404(0, "No such thing.") == 0
    assert found_or_404([], "No such thing.") == []


def test_found_or_404_raises_404_with_the_message_when_nothing_was_found():
    with pytest.raises(Http404, match=r"^No such thing\.$"):
        found_or_404(None, "No such thing.")
