from django_tenants.utils import tenant_context

from commerce.fulfilment_selectors import fulfilment_board
from commerce.models import Fulfilment, FulfilmentRequest
from connectors.models import Connection
from portal.demo.fulfilment import fulfilment_demo_seed
from triage.models import Exception as TriageException


def test_the_demo_puts_orders_in_every_state_and_is_idempotent(world):
    with tenant_context(world.acme):
        fulfilment_demo_seed()
        board = fulfilment_board()
        assert board.counts == {"waiting": 3, "sent": 1, "shipped": 1, "acknowledged": 2}
        causes = set(TriageException.objects.values_list("cause", flat=True))
        assert {"fulfilment_backorder", "fulfilment_rejected"} <= causes
        counts = (Fulfilment.objects.count(), FulfilmentRequest.objects.count(), Connection.objects.count())
        fulfilment_demo_seed()
        assert (Fulfilment.objects.count(), FulfilmentRequest.objects.count(), Connection.objects.count()) == counts
        assert fulfilment_board().counts == board.counts
        assert Connection.objects.get(vendor="shipstation").config["simulated"] is True
