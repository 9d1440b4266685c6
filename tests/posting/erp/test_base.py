from decimal import Decimal

from posting.erp import base


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
