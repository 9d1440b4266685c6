from decimal import Decimal

import httpx
import pytest

from core.http.closing import ClosedOnExit
from posting.erp import base
from posting.erp.ledger import BuiltinLedgerAdapter


def test_error_kind_checks_the_erps_own_signs_before_the_http_status():
    signs = {"reconnect": False, "closed_period": False, "unknown_account": False}
    assert base.error_kind(status=500, **{**signs, "reconnect": True}) == base.ErrorKind.RECONNECT
    assert base.error_kind(status=404, **{**signs, "closed_period": True}) == base.ErrorKind.CLOSED_PERIOD
    assert base.error_kind(status=400, **{**signs, "unknown_account": True}) == base.ErrorKind.UNKNOWN_ACCOUNT
    assert base.error_kind(status=400, not_found=True, **signs) == base.ErrorKind.NOT_FOUND
    assert base.error_kind(status=404, **signs) == base.ErrorKind.NOT_FOUND
    assert base.error_kind(status=503, **signs) == base.ErrorKind.UNAVAILABLE
    assert base.error_kind(status=400, **signs) == base.ErrorKind.VALIDATION
    assert base.error_kind(**signs) == base.ErrorKind.VALIDATION


def test_json_request_adds_the_body_and_its_content_type_only_when_there_is_a_body():
    headers = {"Accept": "application/json"}
    assert base.json_request(None, headers) == {"headers": {"Accept": "application/json"}}
    sent = base.json_request({"amount": Decimal("100.10")}, headers)
    assert sent == {
        "headers": {"Accept": "application/json", "Content-Type": "application/json"},
        "content": b'{"amount":100.10}',
    }
    assert headers == {"Accept": "application/json"}  # the caller's headers are left as they were


class _Refusing(BuiltinLedgerAdapter):
    label = "Test ERP"

    def refusal(self, status, body):
        return base.ErpError(base.ErrorKind.VALIDATION, f"refused: {body['message']}", status_code=status)


def test_answered_returns_an_accepted_answer_and_raises_the_adapters_refusal_of_any_other():
    adapter = _Refusing(config={}, credentials={}, http=None)
    accepted = httpx.Response(201, json={"id": "7"})
    assert adapter.answered(accepted, rate_limited="slow down") is accepted
    with pytest.raises(base.ErpError) as refused:
        adapter.answered(httpx.Response(400, json={"message": "period closed"}), rate_limited="slow down")
    assert (refused.value.kind, refused.value.message, refused.value.status_code) == (
        base.ErrorKind.VALIDATION,
        "refused: period closed",
        400,
    )
    with pytest.raises(base.ErpError) as limited:
        adapter.answered(httpx.Response(429, headers={"retry-after": "3"}), rate_limited="slow down")
    assert (limited.value.kind, limited.value.message, limited.value.retry_after) == (
        base.ErrorKind.RATE_LIMITED,
        "slow down",
        3.0,
    )
    with pytest.raises(base.ErpError) as unreadable:
        adapter.answered(httpx.Response(502, text="<html>Bad gateway</html>"), rate_limited="slow down")
    assert unreadable.value.kind == base.ErrorKind.BAD_RESPONSE


class _Transport:
    closed = 0

    def close(self):
        self.closed += 1


def test_leaving_a_with_block_closes_the_adapters_transport():
    transport = _Transport()
    with BuiltinLedgerAdapter(config={}, credentials={}, http=transport) as adapter:
        assert isinstance(adapter, BuiltinLedgerAdapter)
        assert transport.closed == 0
    assert transport.closed == 1
    with BuiltinLedgerAdapter(config={}, credentials={}, http=None):
        pass  # no transport: nothing to close


class _Labelled(BuiltinLedgerAdapter):
    label = "Test ERP"


@pytest.mark.parametrize(
    ("response", "kind", "message"),
    [
        (httpx.Response(401, json={"message": "token expired"}), base.ErrorKind.RECONNECT, "Test ERP: token expired"),
        (httpx.Response(404, json={}), base.ErrorKind.NOT_FOUND, "Test ERP: HTTP 404"),
        (httpx.Response(422, json=["no message"]), base.ErrorKind.VALIDATION, "Test ERP: HTTP 422"),
        (httpx.Response(503, json={"message": "down"}), base.ErrorKind.UNAVAILABLE, "Test ERP: down"),
    ],
)
def test_an_adapter_without_its_own_refusal_reads_the_http_status_and_message(response, kind, message):
    adapter = _Labelled(config={}, credentials={}, http=None)
    with pytest.raises(base.ErpError) as raised:
        adapter.answered(response, rate_limited="slow down")
    assert (raised.value.kind, raised.value.message, raised.value.status_code) == (kind, message, response.status_code)


def test_the_with_mixin_cannot_be_used_without_a_close():
    class NoClose(ClosedOnExit):
        pass

    with pytest.raises(TypeError, match="close"):
        NoClose()
