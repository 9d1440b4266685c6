from django_tenants.utils import tenant_context

from tenants.models import AuditEvent
from tests.triage.conftest import probe, raise_exception
from triage.partner.models import AlertRule

NORTHWIND = "northwind.localhost"
SOUTHPAW = "southpaw.localhost"


def _spread(world):
    with tenant_context(world.acme):
        acme = raise_exception(probe("order"), severity="critical", kind="sync", cause="auth", title="Acme token")
    with tenant_context(world.bluebird):
        bluebird = raise_exception(probe("order"), severity="low", title="Bluebird unmapped")
    with tenant_context(world.cedar):
        cedar = raise_exception(probe("order"), severity="critical", title="Cedar unmapped")
    return acme, bluebird, cedar


def test_partner_inbox_shows_only_the_partners_tenants_sorted_by_sla(world, host_client):
    acme, bluebird, cedar = _spread(world)
    response = host_client(NORTHWIND, world.partner_admin).get("/exceptions/")
    rows = response.context["page"].object_list
    southpaw = host_client(SOUTHPAW, world.other_partner_admin).get("/exceptions/")
    assert response.status_code == 200
    assert [(row.tenant.slug, row.exception_id) for row in rows] == [("acme", acme.pk), ("bluebird", bluebird.pk)]
    assert [(row.tenant.slug, row.exception_id) for row in southpaw.context["page"].object_list] == [
        ("cedar", cedar.pk)
    ]
    assert b"Cedar unmapped" not in response.content


def test_partner_inbox_row_opens_the_tenant_detail_in_one_click(world, host_client):
    acme, _, _ = _spread(world)
    response = host_client(NORTHWIND, world.partner_admin).get("/exceptions/", {"tenant": "acme"})
    url = f"http://acme.northwind.localhost/exceptions/{acme.pk}/"
    detail = host_client("acme.northwind.localhost", world.partner_admin).get(f"/exceptions/{acme.pk}/")
    assert [row.url for row in response.context["page"].object_list] == [url]
    assert f'href="{url}"' in response.content.decode()
    assert detail.status_code == 200


def test_partner_inbox_filters(world, host_client):
    acme, bluebird, _ = _spread(world)
    client = host_client(NORTHWIND, world.partner_admin)

    def ids(**params):
        return [row.exception_id for row in client.get("/exceptions/", params).context["page"].object_list]

    with tenant_context(world.bluebird):
        from triage import services

        services.exception_assign(exception=bluebird, assignee=world.partner_admin, actor=world.partner_admin)
    assert ids(severity="critical") == [acme.pk]
    assert ids(kind="mapping") == [bluebird.pk]
    assert ids(assignee=world.partner_admin.email) == [bluebird.pk]
    assert ids(assignee="none") == [acme.pk]
    assert ids(status="assigned") == [bluebird.pk]
    assert ids(sla="yes") == []
    assert ids(sla="no") == [acme.pk, bluebird.pk]


def test_partner_inbox_is_not_for_tenant_members_or_tenant_hosts(world, host_client):
    assert host_client(NORTHWIND, world.acme_admin).get("/exceptions/").status_code == 404
    assert host_client(NORTHWIND, world.other_partner_admin).get("/exceptions/").status_code == 404
    assert host_client("localhost", world.operator).get("/exceptions/").status_code == 404


def test_alert_rules_created_partner_wide_or_per_tenant_and_deactivated(world, host_client):
    client = host_client(NORTHWIND, world.partner_admin)
    wide = client.post(
        "/alerts/",
        {"name": "Critical", "trigger": "critical", "emails": "oncall@northwind.test", "webhook": "on"},
    )
    per_tenant = client.post(
        "/alerts/",
        {
            "name": "Acme storm",
            "trigger": "count_over",
            "tenant": "acme",
            "threshold": "20",
            "window_minutes": "10",
            "emails": "ops@acme.test",
        },
    )
    invalid = client.post("/alerts/", {"name": "Nowhere", "trigger": "sla_breach", "emails": "not-an-email"})
    foreign = client.post("/alerts/", {"name": "Cedar", "trigger": "critical", "tenant": "cedar", "webhook": "on"})
    rules = list(AlertRule.objects.filter(partner=world.northwind).order_by("name"))
    assert (wide.status_code, per_tenant.status_code, invalid.status_code, foreign.status_code) == (302, 302, 400, 400)
    assert [(r.name, r.trigger, r.tenant_id, r.emails, r.webhook, r.threshold) for r in rules] == [
        ("Acme storm", "count_over", world.acme.pk, ["ops@acme.test"], False, 20),
        ("Critical", "critical", None, ["oncall@northwind.test"], True, 0),
    ]
    nowhere = client.post("/alerts/", {"name": "Silent", "trigger": "critical"})
    assert "Send the alert somewhere" in nowhere.content.decode()
    deactivated = client.post(f"/alerts/{rules[1].pk}/deactivate/")
    rules[1].refresh_from_db()
    assert deactivated.status_code == 302
    assert rules[1].active is False
    assert AuditEvent.objects.filter(partner=world.northwind, action__startswith="alert_rule.").count() == 3


def test_alert_rules_of_another_partner_are_404(world, host_client):
    rule = AlertRule.objects.create(partner=world.southpaw, name="Theirs", trigger="critical")
    response = host_client(NORTHWIND, world.partner_admin).post(f"/alerts/{rule.pk}/deactivate/")
    rule.refresh_from_db()
    assert response.status_code == 404
    assert rule.active is True
