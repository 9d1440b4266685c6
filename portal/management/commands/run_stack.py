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

from portal.demo.seed import DEMO_PASSWORD, demo_logins

CELERY_WORKER_FLAGS = ("--without-gossip", "--without-mingle", "--prefetch-multiplier=1")
# The web answers webhooks and /healthz within a vendor's timeout however long the backlog is: the
# worker, the backfill worker and beat run at a lower CPU priority (nice 10: about a tenth of the
# web's share when both want a core), so a draining backlog takes the CPU the web leaves idle and
# never the web's (issue 17). In production the same split is the service manager's (docs/operations.md).
BACKGROUND_NICE = 10
WEB_THREADS = 4  # gthread: each web process serves this many requests at once (DB waits overlap)


def cores() -> int:
    """The cores this process may run on (the affinity mask where there is one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def niced(command: list[str], nice: int) -> list[str]:
    """`command` started at niceness `nice` (`nice -n`, so the priority shows in `ps` and the command line)."""
    return ["nice", "-n", str(nice), *command] if nice else command


def stack_commands(
    *,
    python: str,
    port: int,
    workers: int,
    state_dir: Path,
    threads: int = WEB_THREADS,
    concurrency: int | None = None,
    background_nice: int = BACKGROUND_NICE,
) -> dict[str, list[str]]:
    """The command line of each process of the stack, by name: the web at normal priority with
    `workers` processes of `threads` threads; the Celery worker (one process per core unless
    `concurrency` says otherwise, one task prefetched at a time), the backfill worker and beat at
    niceness `background_nice`."""
    celery = [python, "-m", "celery", "-A", "portal"]
    concurrency = concurrency or cores()
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
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--access-logfile",
            "-",
            "--timeout",
            "60",
        ],
        "worker": niced(
            [*celery, "worker", "--loglevel=INFO", f"--concurrency={concurrency}", *CELERY_WORKER_FLAGS],
            background_nice,
        ),
        "backfill-worker": niced(
            [
                *celery,
                "worker",
                "-Q",
                "backfill",
                "-n",
                "backfill@%h",
                "--loglevel=INFO",
                "--concurrency=1",
                *CELERY_WORKER_FLAGS,
            ],
            background_nice,
        ),
        "beat": niced(
            [*celery, "beat", "--loglevel=INFO", "--schedule", str(state_dir / "celerybeat-schedule")],
            background_nice,
        ),
    }


class Command(BaseCommand):
    help = "Run the web server, the Celery worker and Celery beat until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.PORTAL_PORT)
        parser.add_argument("--workers", type=int, default=cores(), help="web processes (default: one per core)")

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
        self._banner(port=options["port"])
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with code {process.returncode}; stopping the rest.")
                        stopping = True
                time.sleep(0.5)
        finally:
            self._stop_all(processes)

    def _banner(self, *, port: int) -> None:
        self.stdout.write(self.style.SUCCESS("\nTillbridge is running (Ctrl-C stops web, worker and beat):"))
        for login in demo_logins():
            self.stdout.write(f"  {login.area:<38} {login.url:<44} {login.email}")
        self.stdout.write(f"  Password for every demo login: {DEMO_PASSWORD}")
        self.stdout.write(
            f"  Health: http://localhost:{port}/healthz   "
            f"Metrics: http://localhost:{port}/metrics "
            f"({'Authorization: Bearer $METRICS_TOKEN' if settings.METRICS_TOKEN else 'off: set METRICS_TOKEN'})\n"
        )

    def _stop_all(self, processes: dict[str, subprocess.Popen]) -> None:
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
