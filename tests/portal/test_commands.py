import os
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command

from portal.management.commands.run_stack import BACKGROUND_NICE, WEB_THREADS, cores, stack_commands
from portal.management.commands.run_stack import Command as RunStack
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


def _stack(**options) -> dict[str, list[str]]:
    return stack_commands(python="/venv/bin/python", port=8123, workers=2, state_dir=Path("/state"), **options)


def test_run_stack_runs_the_worker_and_beat_below_the_web():
    commands = _stack()
    assert commands["web"][0] == "/venv/bin/python"  # the web keeps the normal priority
    for name in ("worker", "backfill-worker", "beat"):
        assert commands[name][:4] == ["nice", "-n", str(BACKGROUND_NICE), "/venv/bin/python"], name
    assert BACKGROUND_NICE >= 10


def test_run_stack_sizes_web_and_worker_to_the_cores():
    commands = _stack()
    web = commands["web"]
    assert web[web.index("--workers") + 1] == "2"
    assert web[web.index("--worker-class") + 1] == "gthread"
    assert web[web.index("--threads") + 1] == str(WEB_THREADS)
    assert f"--concurrency={cores()}" in commands["worker"]
    for name in ("worker", "backfill-worker"):
        assert "--prefetch-multiplier=1" in commands[name], name
    assert f"--concurrency={cores()}" in _stack(concurrency=None)["worker"]
    assert "--concurrency=3" in _stack(concurrency=3)["worker"]
    parser = RunStack().create_parser("manage.py", "run_stack")
    assert parser.parse_args([]).workers == cores()


def test_run_stack_background_priority_can_be_switched_off_to_compare():
    commands = _stack(background_nice=0)
    assert all(command[0] == "/venv/bin/python" for command in commands.values())


def test_the_nice_prefix_lowers_the_started_process_priority():
    prefix = _stack()["worker"][:3]
    probe = [*prefix, sys.executable, "-c", "import os; print(os.nice(0))"]
    started = subprocess.run(probe, capture_output=True, text=True, check=True)
    assert int(started.stdout) == min(19, os.nice(0) + BACKGROUND_NICE)
