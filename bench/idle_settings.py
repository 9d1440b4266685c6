"""Settings for bench/idle.py: the test settings with kept database connections, so the CPU of
the worker's and the bench's PostgreSQL backends can be read for the whole run."""

from portal.settings.test import *  # noqa: F403

DATABASES["default"]["CONN_MAX_AGE"] = 600  # noqa: F405
