from portal.settings.base import *  # noqa: F403
from portal.settings.base import REDIS_URL, env

DEBUG = False
# Tests use their own Redis databases so a running `make run` worker never takes their tasks.
# TEST_REDIS_DB picks the pair (broker N, cache N+1) so parallel checkouts do not collide.
_REDIS_BASE = REDIS_URL.rsplit("/", 1)[0]
_TEST_REDIS_DB = env.int("TEST_REDIS_DB", default=13)
CELERY_BROKER_URL = f"{_REDIS_BASE}/{_TEST_REDIS_DB}"
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CACHES["default"]["LOCATION"] = f"{_REDIS_BASE}/{_TEST_REDIS_DB + 1}"  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
MEDIA_ROOT = LOCAL_DIR / "test-media"  # noqa: F405
LOG_LEVEL = env("LOG_LEVEL", default="WARNING")
WORKER_HEARTBEAT_KEY = f"tillbridge:test{_TEST_REDIS_DB}:worker-heartbeat"
AXES_FAILURE_LIMIT = 5
CONNECTOR_API_BASE_OVERRIDE = True  # adapters may call a local vendor simulator in tests
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True  # the browser tests run on http://*.localhost
DOMAIN_TXT_RESOLVER = "tests.fake_dns.txt_records"  # tests never query real DNS
# Small batches, so the fairness tests' storms span several (connectors/ingest.py).
CONNECTOR_INGEST_BATCH = 50
