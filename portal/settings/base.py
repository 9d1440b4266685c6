"""Settings shared by every environment. Every secret and URL comes from the environment."""

from pathlib import Path

import environ
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent
LOCAL_DIR = BASE_DIR / ".local"

env = environ.Env()
# `make run`/`make test` write the URLs of embedded services here when no local ones answer.
if (LOCAL_DIR / "env").exists():
    environ.Env.read_env(str(LOCAL_DIR / "env"), overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-insecure-tillbridge-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[".localhost", "localhost", "127.0.0.1", "testserver"])

# The public (operator) domain; partner consoles live on their own domains, tenants below them.
PORTAL_PUBLIC_DOMAIN = env("PORTAL_PUBLIC_DOMAIN", default="localhost")
# Looks up the TXT record that proves a partner's custom domain (tenants/domains.py).
DOMAIN_TXT_RESOLVER = "tenants.domains.dns_txt_records"
PORTAL_PRODUCT_NAME = "Tillbridge"
PORTAL_SCHEME = env("PORTAL_SCHEME", default="http")
PORTAL_PORT = env.int("PORTAL_PORT", default=8000)

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "triage.partner",  # public schema: the partner-wide exception index and alert rules
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "django_filters",
    "django_htmx",
    "django_prometheus",
    "portal",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "triage",
    "commerce",
    "mappings",
    "posting",
    "posting.erp",
    "connectors",
    "promotions",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "portal.urls_public"
ROOT_URLCONF = "portal.urls_tenant"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
# The schema every new tenant schema is replayed from (tenants/provisioning.py).
TENANT_TEMPLATE_SCHEMA = "tenant_template"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/tillbridge"),
}
# django-tenants' backend, able to pin a batch's search_path once (core/db/base.py).
DATABASES["default"]["ENGINE"] = "core.db"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
REDIS_CACHE_URL = env("REDIS_CACHE_URL", default=REDIS_URL.rsplit("/", 1)[0] + "/1")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_CACHE_URL,
        # Keys carry the schema so tenants never read each other's cache entries.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
    }
}

MIDDLEWARE = [
    "portal.middleware.ContentLengthMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenants.middleware.DomainRoutingMiddleware",
    "portal.middleware.RequestContextMiddleware",
    # BrowserOnly…: the wrapped middleware runs for every request except a vendor's webhook
    # (/hooks/, signed, no session or user): portal/middleware.py says why each one may be skipped.
    # CSRF stays Django's own (`check --deploy` looks for it by name; the receivers are csrf_exempt,
    # so on a webhook it reads one cookie and sets none).
    "portal.middleware.BrowserOnlySessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "portal.middleware.BrowserOnlyAuthenticationMiddleware",
    "portal.middleware.BrowserOnlyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.middleware.BrowserOnlyHtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "tenants.middleware.MembershipMiddleware",  # lets /hooks/ through itself (OPEN_PREFIXES)
    "tenants.middleware.TenantDueMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.brand",
            ],
        },
    }
]
WSGI_APPLICATION = "portal.wsgi.application"

AUTH_USER_MODEL = "tenants.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# allauth: email login, mandatory verification, invitation-only (no open sign-up), MFA.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_ADAPTER = "tenants.adapters.BrandedAccountAdapter"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
# Reset links work only on the host they were mailed for; an unknown address gets no mail (DESIGN.md §7).
ACCOUNT_PASSWORD_RESET_TOKEN_GENERATOR = "tenants.tokens.HostBoundTokenGenerator"  # noqa: S105 (a class path)
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_RATE_LIMITS = {"login_failed": "20/m/ip,10/5m/key"}
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
# Security keys and passkeys need https; local development and the browser tests run on http://*.localhost.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = env.bool("MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN", default=False)
MFA_ADAPTER = "tenants.adapters.BrandedMFAAdapter"  # TOTP issuer and passkey name: the host's brand

# django-axes: lock an account+IP pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "tenants.adapters.axes_username"
AXES_LOCKOUT_TEMPLATE = "account/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = LOCAL_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(LOCAL_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = LOCAL_DIR / "mail"
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Tillbridge <no-reply@tillbridge.localhost>")

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False

# Celery (tenant-schemas-celery): every task runs in the schema it was sent from.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Where the worker heartbeat is kept (checked by /healthz) and how old it may be.
WORKER_HEARTBEAT_KEY = "tillbridge:worker-heartbeat"
WORKER_HEARTBEAT_MAX_AGE = 90

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.ApiAutoSchema",
    # API keys first: its WWW-Authenticate header makes unauthenticated calls 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.auth.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["core.api.auth.KeyRateThrottle", "core.api.auth.TenantRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "core.api.errors.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "core.api.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api.errors.BoundedJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.api.errors.LenientContentNegotiation",
}
# Requests per minute, counted in Redis (core.api.auth): per API key, and per tenant (or per
# partner for partner-level calls) whatever the credential.
API_RATE_PER_KEY = env.int("API_RATE_PER_KEY", default=600)
API_RATE_PER_TENANT = env.int("API_RATE_PER_TENANT", default=1200)
# Idempotency-Key records are replayed for this long (core/api/idempotency.py).
API_IDEMPOTENCY_TTL_HOURS = 24
# Outbound webhook URLs must resolve to public addresses unless this is set (default: DEBUG).
WEBHOOKS_ALLOW_PRIVATE = env.bool("WEBHOOKS_ALLOW_PRIVATE", default=DEBUG)
WEBHOOKS_MAX_ATTEMPTS = 8
# Connectors: MultiFernet keys for credentials (newest first; `rotate_credentials_key` re-encrypts).
# Empty outside prod means a key derived from SECRET_KEY (core/crypto.py); prod refuses that.
CONNECTOR_CREDENTIAL_KEYS = env.list("CONNECTOR_CREDENTIAL_KEYS", default=[])
# Partner-set vendor URLs (WooCommerce store, ERP base URL) must resolve to public addresses.
CONNECTORS_ALLOW_PRIVATE_URLS = env.bool("CONNECTORS_ALLOW_PRIVATE_URLS", default=DEBUG)
# Lets a connection's config `api_base_url` point an adapter at a local simulator (dev and tests only).
CONNECTOR_API_BASE_OVERRIDE = env.bool("CONNECTOR_API_BASE_OVERRIDE", default=DEBUG)
CONNECTOR_WEBHOOK_MAX_BYTES = 2 * 1024 * 1024
CONNECTOR_EVENT_MAX_ATTEMPTS = 5
# Events one ingest batch claims (connectors/ingest.py): more is fewer queries per order, fewer is
# a shorter turn for a busy tenant in the fair `events` queue (another tenant waits ≤ ~2 batches).
CONNECTOR_INGEST_BATCH = env.int("CONNECTOR_INGEST_BATCH", default=200)
# Available-to-sell changes wait this long and go to the channels in one push per tenant.
INVENTORY_PUSH_DEBOUNCE_SECONDS = env.int("INVENTORY_PUSH_DEBOUNCE_SECONDS", default=30)
# How often each live promotion's offer is read back from its channel to catch drift (promotions/drift.py).
PROMOTIONS_DRIFT_CHECK_MINUTES = env.int("PROMOTIONS_DRIFT_CHECK_MINUTES", default=60)
# Fairness: at most this many sync runs of one tenant work at once; backfills use their own queue.
CONNECTOR_TENANT_SYNC_CONCURRENCY = env.int("CONNECTOR_TENANT_SYNC_CONCURRENCY", default=2)
CONNECTOR_BACKFILL_QUEUE = env("CONNECTOR_BACKFILL_QUEUE", default="backfill")
# Fair queues (core/fairness.py): tenants take turns; `quantum` is how many jobs one tenant runs
# per turn in that queue, `lease_seconds` how long a job may run before it is handed out again.
# FAIR_QUEUES_ENABLED=false sends these tasks straight to Celery's FIFO queue (to compare, or to
# fall back); the tasks are the same either way.
FAIR_QUEUES_ENABLED = env.bool("FAIR_QUEUES_ENABLED", default=True)
FAIR_QUEUES = {
    # max_running: jobs of one tenant running at once (0: no limit); 1 keeps a worker process free for
    # other tenants while one tenant's ingest batches run (bench/fairness.py; issue 17).
    "events": {
        "quantum": env.int("FAIR_EVENTS_QUANTUM", default=1),
        "lease_seconds": 600,
        "max_running": env.int("FAIR_EVENTS_MAX_RUNNING", default=0),
    },
    "erp": {"quantum": env.int("FAIR_ERP_QUANTUM", default=1), "lease_seconds": 600},
    "inventory": {"quantum": env.int("FAIR_INVENTORY_QUANTUM", default=1), "lease_seconds": 900},
    "promotions": {"quantum": env.int("FAIR_PROMOTIONS_QUANTUM", default=1), "lease_seconds": 600},
}
# Each fair queue's pump tokens travel in a Celery queue of their own (`fair.<name>`), which every
# worker started without -Q consumes along with the default one. The broker hands a worker its
# queues in turn, so one kind of backlog (an ERP push per posted journal of a big backfill) never
# sits in front of another kind's tokens (another tenant's webhook). `backfill` is not listed: only
# the backfill worker (-Q backfill) takes it.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue("celery"), *(Queue(f"fair.{name}") for name in FAIR_QUEUES)]
# OAuth apps for "Connect with …" (client id, secret); empty means tokens are entered by hand.
CONNECTOR_OAUTH_APPS = {
    "shopify": (env("SHOPIFY_APP_CLIENT_ID", default=""), env("SHOPIFY_APP_CLIENT_SECRET", default="")),
    "square": (env("SQUARE_APP_ID", default=""), env("SQUARE_APP_SECRET", default="")),
    "stripe": (env("STRIPE_CONNECT_CLIENT_ID", default=""), env("STRIPE_PLATFORM_SECRET_KEY", default="")),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tillbridge API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "TenantStatusEnum": "tenants.models.Tenant.Status",
        "WebhookDeliveryStatusEnum": "tenants.models.WebhookDelivery.Status",
        "ExceptionStatusEnum": "triage.models.Status",
        "ExceptionStatusFilterEnum": "triage.api.exceptions.STATUS_FILTER_CHOICES",
        "ConnectionStatusEnum": "connectors.models.Connection.Status",
        "SyncRunStatusEnum": "connectors.models.SyncRun.Status",
        "InventoryLocationKindEnum": "commerce.models.InventoryLocation.Kind",
        "FulfilmentOriginEnum": "commerce.models.Fulfilment.Origin",
        "ReturnOriginEnum": "commerce.models.Return.Origin",
        "ReturnStatusEnum": "commerce.models.Return.Status",
        "InboundEventStatusEnum": "connectors.models.InboundEvent.Status",
        "ConnectionSettableStatusEnum": [("active", "Active"), ("paused", "Paused")],
        "AccountTypeEnum": "mappings.models.Account.Type",
        "MappingSetStatusEnum": "mappings.models.MappingSet.Status",
        "PostingRoleEnum": "mappings.models.PostingRole",
        "JournalEntryStatusEnum": "posting.models.JournalEntry.Status",
        "PostingBatchStatusEnum": "posting.models.PostingBatch.Status",
        "ReconciliationStatusEnum": "posting.models.Reconciliation.Status",
        "PayoutLineTypeEnum": "commerce.models.PayoutLine.Type",
        "PayoutLineMatchStateEnum": "posting.api.LINE_MATCH_STATES",
        "ValueMapKindEnum": "mappings.models.ValueMap.Kind",
        "PromotionKindEnum": "promotions.models.Kind",
        "PromotionStatusEnum": "promotions.models.Promotion.Status",
        "MembershipRoleEnum": "tenants.models.Membership.Role",
        "ExceptionKindEnum": "triage.models.Kind",
    },
}

# Logo uploads: raster images only (SVG can carry script), bounded in bytes and pixels.
BRAND_LOGO_MAX_BYTES = 512 * 1024
BRAND_LOGO_MAX_PIXELS = 2048

# Security headers and tokens (issue 13: uploads, metrics, redirects).
# Every page's Content-Security-Policy (django-csp): script only from our own static files, no
# inline script or event handler. Inline styles stay allowed: brand colours are set inline and are
# validated #RRGGBB values. /media/ answers with its own sandboxing policy (core/media.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# /metrics answers only to `Authorization: Bearer <METRICS_TOKEN>`; unset means /metrics is off (404).
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# structlog renders every log line (ours and Django's) as JSON carrying request id and tenant.
LOGGING_CONFIG = None
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
