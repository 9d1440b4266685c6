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
