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
