"""Start web (gunicorn), Celery worker and beat; print where to go; stop all on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from tenants.demo import DEMO_PASSWORD, demo_logins


def stack_commands(*, python: str, port: int, workers: int, state_dir: Path) -> dict[str, list[str]]:
    """The processes of the stack: web (gunicorn), the Celery workers (live and backfill), beat."""
    return {
        "web": [
            python,
            "-m",
            "gunicorn",
            "portal.wsgi:application",
            "--bind",
            f"0.0.0.0:{port}",
            "--workers",
            str(workers),
            "--access-logfile",
            "-",
            "--timeout",
            "60",
        ],
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--loglevel=INFO",
            "--concurrency=2",
            "--without-gossip",
            "--without-mingle",
        ],
        "backfill-worker": [
            python,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "-Q",
            "backfill",
            "-n",
            "backfill@%h",
            "--loglevel=INFO",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
        ],
        "beat": [
            python,
            "-m",
            "celery",
            "-A",
            "portal",
            "beat",
            "--loglevel=INFO",
            "--schedule",
            str(state_dir / "celerybeat-schedule"),
        ],
    }


class Command(BaseCommand):
    help = "Run the web server, the Celery worker and Celery beat until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.PORTAL_PORT)
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args, **options):
        state_dir = settings.LOCAL_DIR
        state_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "portal.settings.dev")}
        commands = stack_commands(
            python=sys.executable, port=options["port"], workers=options["workers"], state_dir=state_dir
        )
        processes = {name: subprocess.Popen(cmd, env=env) for name, cmd in commands.items()}  # noqa: S603
        stopping = False

        def stop(*_args) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        time.sleep(2)
        self._greet(port=options["port"])
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with code {process.returncode}; stopping the rest.")
                        stopping = True
                time.sleep(0.5)
        finally:
            self._stop(processes)

    def _greet(self, *, port: int) -> None:
        self.stdout.write(self.style.SUCCESS("\nTillbridge is running (Ctrl-C stops web, worker and beat):"))
        for login in demo_logins():
            self.stdout.write(f"  {login.area:<38} {login.url:<44} {login.email}")
        self.stdout.write(f"  Password for every demo login: {DEMO_PASSWORD}")
        self.stdout.write(
            f"  Health: http://localhost:{port}/healthz   "
            f"Metrics: http://localhost:{port}/metrics "
            f"({'Authorization: Bearer $METRICS_TOKEN' if settings.METRICS_TOKEN else 'off: set METRICS_TOKEN'})\n"
        )

    def _stop(self, processes: dict[str, subprocess.Popen]) -> None:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        self.stdout.write("Stopped web, worker and beat.")
