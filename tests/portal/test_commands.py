from django.core.management import call_command

from tenants.models import Partner, Tenant


def test_seed_demo_is_idempotent(world, capsys):
    call_command("seed_demo")
    counts = (Partner.objects.count(), Tenant.objects.count())
    call_command("seed_demo")
    assert (Partner.objects.count(), Tenant.objects.count()) == counts
    captured = capsys.readouterr()
    assert "http://acme.northwind.localhost:8000/" in captured.out
    assert "finance@acme-outfitters.test" in captured.out
    # the progress bar (on stderr) counts every step to the end and names the last one
    assert "11/11" in captured.err and "a month of orders, refunds and payouts" in captured.err
