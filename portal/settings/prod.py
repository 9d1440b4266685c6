from django.core.exceptions import ImproperlyConfigured

from portal.settings.base import *  # noqa: F403
from portal.settings.base import SECRET_KEY, env

DEBUG = False
if SECRET_KEY.startswith("dev-insecure") or len(SECRET_KEY) < 40:
    raise ImproperlyConfigured("Set DJANGO_SECRET_KEY to a long random value before running in production.")
if not env("DATABASE_URL", default=None):
    raise ImproperlyConfigured("Set DATABASE_URL in production.")
if not env("REDIS_URL", default=None):
    raise ImproperlyConfigured("Set REDIS_URL in production.")
if not env.list("CONNECTOR_CREDENTIAL_KEYS", default=[]):
    raise ImproperlyConfigured("Set CONNECTOR_CREDENTIAL_KEYS (Fernet keys, newest first) in production.")
# METRICS_TOKEN: the bearer token Prometheus sends to /metrics. Unset, /metrics answers 404 on
# every host; set, it must be long and random (e.g. `python -c "import secrets; print(secrets.token_urlsafe(32))"`).
if 0 < len(env("METRICS_TOKEN", default="")) < 32:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 32 characters (or unset to turn /metrics off).")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
PORTAL_SCHEME = "https"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# TLS ends at the reverse proxy, which must set X-Forwarded-Proto (and strip it from clients).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
# The load balancer's health probe speaks plain HTTP to the container; every other path redirects.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Every tenant host is a subdomain served by this portal over HTTPS, so HSTS covers subdomains.
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
STORAGES["staticfiles"]["BACKEND"] = "whitenoise.storage.CompressedManifestStaticFilesStorage"  # noqa: F405
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")

# Outbound SSRF guards (core/http/netsafety.py) are on whatever DJANGO_DEBUG says: base.py defaults
# these dev/test overrides to DEBUG, and production must not start with any of them asked for.
for _override in ("WEBHOOKS_ALLOW_PRIVATE", "CONNECTORS_ALLOW_PRIVATE_URLS", "CONNECTOR_API_BASE_OVERRIDE"):
    if env.bool(_override, default=False):
        raise ImproperlyConfigured(f"{_override} is for development and tests only: unset it in production.")
WEBHOOKS_ALLOW_PRIVATE = False
CONNECTORS_ALLOW_PRIVATE_URLS = False
CONNECTOR_API_BASE_OVERRIDE = False
