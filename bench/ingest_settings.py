"""Settings for bench/fairness.py's gunicorn: the test settings plus a hello-world baseline view."""

from portal.settings.test import *  # noqa: F403

ROOT_URLCONF = "bench.ingest_urls"
ALLOWED_HOSTS = ["*"]
