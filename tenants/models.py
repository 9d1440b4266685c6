"""Public-schema models: who the partners and tenants are, who may act on them, and what they did."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_tenants.models import DomainMixin, TenantMixin

from core.encrypted import encrypted_property
from tenants.validators import validate_hex_colour, validate_logo


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        if not email:
            raise ValueError("Users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. Signs in with an email address; what they may see comes from memberships."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Platform operator: may use the operator console.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name.split(" ")[0] if self.name else self.email


class Partner(models.Model):
    """An integration partner who runs the portal under its own brand."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=120)
    logo = models.ImageField(upload_to="brand/logos/", blank=True, validators=[validate_logo])
    primary_colour = models.CharField(max_length=7, default="#1F4E79", validators=[validate_hex_colour])
    accent_colour = models.CharField(max_length=7, default="#F2A900", validators=[validate_hex_colour])
    support_email = models.EmailField(blank=True)
    sender_name = models.CharField(max_length=120, blank=True, help_text="Name shown as the sender of emails.")

    class Plan(models.TextChoices):
        STANDARD = "standard", "Standard (shows 'Powered by' the product)"
        WHITE_LABEL = "white_label", "White label (no product name on pages or mails)"

    plan = models.CharField(max_length=12, choices=Plan.choices, default=Plan.STANDARD)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tenant(TenantMixin):
    """A retail customer of a partner: one PostgreSQL schema."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    class Plan(models.TextChoices):
        STARTER = "starter", "Starter"
        GROWTH = "growth", "Growth"
        ENTERPRISE = "enterprise", "Enterprise"

    # Schemas are provisioned by tenants.provisioning, never by save().
    auto_create_schema = False
    auto_drop_schema = False

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="tenants", null=True, blank=True)
    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    timezone = models.CharField(max_length=64, default="UTC")
    base_currency = models.CharField(max_length=3, default="USD")
    plan = models.CharField(max_length=12, choices=Plan.choices, default=Plan.STARTER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # Only the public tenant (the operator's own schema) has no partner.
            models.CheckConstraint(
                condition=Q(partner__isnull=False) | Q(schema_name="public"), name="tenant_has_partner"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        return self.schema_name == "public"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class DomainVerification(models.Model):
    """A partner's claim to a custom domain, proven by a DNS TXT record (tenants/domains.py).

    The partner publishes `_tillbridge-challenge.<domain>  TXT  "tillbridge-verification=<token>"`.
    Until the record is seen the claim is pending; tenant hosts on it are refused, and a host whose
    claim is not verified (pending, or failed after the record disappeared) does not route."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        VERIFIED = "verified", "Verified"
        FAILED = "failed", "Failed"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="domain_verifications")
    domain = models.CharField(max_length=253)
    token = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    last_error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    checked_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["domain", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "domain"], name="domain_verification_unique_partner"),
            # Anyone may claim a name (only its owner can publish the record); one partner holds it.
            models.UniqueConstraint(
                fields=["domain"], condition=Q(status="verified"), name="domain_verification_one_verified"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.domain} ({self.status})"

    @property
    def is_verified(self) -> bool:
        return self.status == self.Status.VERIFIED


class Domain(DomainMixin):
    """A host name. Tenant domains point at a tenant schema; partner console domains point at the
    public schema and name the partner whose brand and console they serve. A tenant host on a
    partner's custom domain names the verification it rests on, and routes only while verified."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="domains", null=True, blank=True)
    verification = models.ForeignKey(
        DomainVerification, on_delete=models.PROTECT, related_name="hosts", null=True, blank=True
    )


class Membership(models.Model):
    """What a user may see: a partner (and all its tenants) or one tenant, with a role."""

    class Role(models.TextChoices):
        PARTNER_ADMIN = "partner_admin", "Partner admin"
        PARTNER_OPERATOR = "partner_operator", "Partner operator"
        TENANT_ADMIN = "tenant_admin", "Tenant admin"
        TENANT_VIEWER = "tenant_viewer", "Tenant viewer"

    PARTNER_ROLES = (Role.PARTNER_ADMIN, Role.PARTNER_OPERATOR)
    TENANT_ROLES = (Role.TENANT_ADMIN, Role.TENANT_VIEWER)
    # Every role but the tenant viewer, who only reads: the session roles of the tenant API's writes.
    WRITER_ROLES = (Role.PARTNER_ADMIN, Role.PARTNER_OPERATOR, Role.TENANT_ADMIN)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, null=True, blank=True, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, null=True, blank=True, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(partner__isnull=False, tenant__isnull=True, role__in=["partner_admin", "partner_operator"])
                    | Q(partner__isnull=True, tenant__isnull=False, role__in=["tenant_admin", "tenant_viewer"])
                ),
                name="membership_scope_matches_role",
            ),
            models.UniqueConstraint(
                fields=["user", "partner"], condition=Q(partner__isnull=False), name="membership_unique_partner"
            ),
            models.UniqueConstraint(
                fields=["user", "tenant"], condition=Q(tenant__isnull=False), name="membership_unique_tenant"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.partner or self.tenant}"


class Invitation(models.Model):
    """An offer to an existing user of a membership in a partner or one of its tenants.

    A partner cannot add a person who already has an account elsewhere on the platform by itself:
    the person is mailed, and the membership exists only once they accept (tenants.invitations)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    key = models.CharField(max_length=64, unique=True, help_text="Random, in the accept link.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="invitations")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, null=True, blank=True, related_name="invitations")
    role = models.CharField(max_length=20, choices=Membership.Role.choices)
    inviter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    inviter_label = models.CharField(max_length=120, help_text="Who invited: an email or 'api-key:<prefix>'.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "partner", "tenant"],
                condition=Q(status="pending"),
                name="invitation_one_pending_per_area",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.tenant or self.partner} ({self.status})"

    def is_open(self, *, at=None) -> bool:
        return self.status == self.Status.PENDING and self.expires_at > (at or timezone.now())


class AuditEvent(models.Model):
    """One change made by a person, an API key or the system, through a service."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=120, help_text="Who acted: an email, 'api-key:<prefix>' or 'system'.")
    action = models.CharField(max_length=80)
    target_type = models.CharField(max_length=80)
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=200, blank=True)
    partner = models.ForeignKey(Partner, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(
        max_length=64, blank=True, default="", help_text="The X-Request-ID of the request that made the change."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["partner", "-created_at"]), models.Index(fields=["tenant", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.target_type}:{self.target_id}"


class SchemaTemplate(models.Model):
    """The DDL of the migrated template schema, captured once per migration state."""

    migration_key = models.CharField(max_length=64, unique=True)
    ddl = models.TextField(help_text="DDL with the schema name as a placeholder, replayed in one round trip.")
    copy_tables = models.JSONField(
        default=list, help_text="[table, identity column or null] of template tables whose rows are copied."
    )
    captured_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"template {self.migration_key[:12]}"


class ApiKey(models.Model):
    """A credential for the API. Only the prefix is stored in clear; the secret is kept as an HMAC."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Write"
        ADMIN = "admin", "Admin"

    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=32, unique=True, help_text="Visible part of the key, e.g. tb_live_ab12cd34.")
    secret_hash = models.CharField(max_length=64, help_text="hex HMAC-SHA256 of the full key with the server pepper.")
    scopes = models.JSONField(default=list)
    partner = models.ForeignKey(Partner, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys")
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(partner__isnull=False, tenant__isnull=True) | Q(partner__isnull=True, tenant__isnull=False),
                name="api_key_partner_xor_tenant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def level(self) -> str:
        return "partner" if self.partner_id else "tenant"

    @property
    def owning_partner_id(self) -> int | None:
        return self.partner_id if self.partner_id else self.tenant.partner_id

    def is_usable(self, *, at=None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > at)


class UsageRecord(models.Model):
    """A daily counter per partner, tenant (null for partner-level API calls) and metric."""

    class Metric(models.TextChoices):
        ORDERS_INGESTED = "orders_ingested", "Orders ingested"
        REFUNDS_INGESTED = "refunds_ingested", "Refunds ingested"
        JOURNALS_POSTED = "journals_posted", "Journals posted"
        ERP_PUSHES = "erp_pushes", "ERP pushes acknowledged"
        API_CALLS = "api_calls", "API calls"
        WEBHOOK_EVENTS = "webhook_events", "Webhook events"
        SYNC_RUNS = "sync_runs", "Sync runs"
        ACTIVE_CONNECTIONS = "active_connections", "Active connections"

    GAUGES = frozenset({"active_connections"})  # a day's value, not a sum: a month bills its peak

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="usage_records")
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="usage_records")
    day = models.DateField()
    metric = models.CharField(max_length=32, choices=Metric.choices)
    count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-day", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "tenant", "day", "metric"], name="usage_record_unique_day", nulls_distinct=False
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant or self.partner} {self.day} {self.metric}={self.count}"


class UsageFlush(models.Model):
    """One flush of the Redis usage counters into UsageRecord (tenants.usage.usage_flush): its id is
    written in the same transaction as the counts, so a flush whose Redis key outlived a crash is
    recognised and never counted twice."""

    flush_id = models.CharField(max_length=32, unique=True)
    fields = models.PositiveIntegerField(default=0, help_text="How many (tenant, day, metric) counters it added.")
    flushed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-flushed_at"]

    def __str__(self) -> str:
        return f"usage flush {self.flush_id}"


class RateCard(models.Model):
    """What a partner charges its tenants on one plan each month: a base fee and, per metric, the
    volume included and the price of each unit beyond it (tenants.billing makes the statements)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="rate_cards")
    plan = models.CharField(max_length=12, choices=Tenant.Plan.choices)
    currency = models.CharField(max_length=3, default="USD")
    monthly_fee = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plan"]
        constraints = [models.UniqueConstraint(fields=["partner", "plan"], name="rate_card_partner_plan_unique")]

    def __str__(self) -> str:
        return f"{self.partner} {self.plan}"


class RateCardLine(models.Model):
    rate_card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="lines")
    metric = models.CharField(max_length=32, choices=UsageRecord.Metric.choices)
    included = models.PositiveBigIntegerField(default=0)
    unit_price = models.DecimalField(max_digits=12, decimal_places=4, default=0)

    class Meta:
        ordering = ["metric"]
        constraints = [models.UniqueConstraint(fields=["rate_card", "metric"], name="rate_card_line_metric_unique")]

    def __str__(self) -> str:
        return f"{self.rate_card} {self.metric}"


class IdempotencyRecord(models.Model):
    """The stored outcome of a POST/PATCH sent with an Idempotency-Key, kept 24 hours."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETE = "complete", "Complete"

    scope = models.CharField(
        max_length=63, default="public", help_text="The schema the request acted in: a tenant's, or 'public'."
    )
    principal = models.CharField(max_length=80, help_text="'api-key:<id>' or 'user:<id>'.")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    body_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The rendered JSON text: jsonb cannot hold every string a client may send (e.g. \u0000).
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "principal", "key"], name="idempotency_unique_scope_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.principal} {self.key} {self.status}"


class WebhookSubscription(models.Model):
    """A partner's endpoint for outbound event notifications, signed with its own secret."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="webhook_subscriptions")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)
    # The signing secret, encrypted like connector credentials (core/crypto.py, MultiFernet);
    # read and written only through `secret`, and shown to the partner once, when created.
    secret_encrypted = models.TextField(blank=True, default="")
    secret = encrypted_property("secret_encrypted")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.partner} → {self.url}"


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one subscription; every attempt is kept in `attempt_log`."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=60)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    attempt_log = models.JSONField(default=list)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription_id} ({self.status})"


class TenantDue(models.Model):
    """When a tenant next has periodic work (DESIGN.md §3): the per-minute beat reads only the rows
    due now, so an idle tenant costs nothing. Written only by tenants/due.py."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, primary_key=True, related_name="due")
    due_at = models.DateTimeField(null=True, blank=True, help_text="Null: nothing due until a write marks it.")
    all_due = models.BooleanField(default=True, help_text="Marked by a write: every job runs at the next visit.")
    # Raised by every mark; a visit records its next due times only if no mark came meanwhile.
    version = models.BigIntegerField(default=0)
    jobs = models.JSONField(default=dict, help_text="Job name → next due (epoch seconds, null: nothing pending).")

    class Meta:
        indexes = [models.Index(fields=["due_at"], name="tenant_due_at", condition=Q(due_at__isnull=False))]

    def __str__(self) -> str:
        return f"{self.tenant_id} due {self.due_at}"
