from django.db.models import Q

from connectors.models import InboundEvent
from core.selectors import status_search_filter


def _sql(queryset) -> str:
    return str(queryset.query)


def test_status_and_search_narrow_the_list_with_one_case_insensitive_match_per_field():
    events = InboundEvent.objects.all()
    narrowed = status_search_filter(events, status="failed", search="Ord", search_fields=("topic", "external_id"))
    expected = events.filter(status="failed").filter(Q(topic__icontains="Ord") | Q(external_id__icontains="Ord"))
    assert _sql(narrowed) == _sql(expected)


def test_an_empty_status_and_search_leave_the_list_whole():
    events = InboundEvent.objects.all()
    assert _sql(status_search_filter(events, status="", search=None, search_fields=("topic",))) == _sql(events)
    assert _sql(status_search_filter(events, status=None, search="", search_fields=("topic",))) == _sql(events)
