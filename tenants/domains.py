"""Which host names a partner may use, and custom domains proven by a DNS TXT record (DESIGN.md §7).

One rule set for every way a host is chosen (API, console, management commands, provisioning):

- a tenant host sits under one of its partner's console domains (`<slug>.northwind.example`) or on
  or under a custom domain that partner has verified;
- never on or under another partner's console domain or verified custom domain, never the
  operator's domain (`PORTAL_PUBLIC_DOMAIN`) or a host under it that is not the partner's own,
  never an IP literal (v4 or v6), never `localhost`;
- always a syntactically valid host name: IDNA (UTS #46) to ASCII, lower case, labels of 1-63
  letters, digits and inner hyphens, at most 253 characters, a last label that is not all digits.

A refusal is a `DomainRefused` (a Django ValidationError on the `domain` field) whose message names
the rule, e.g. `[rule: another_partner]`; the API answers 400 with it and forms show it.

Custom domain verification: the partner publishes

    _tillbridge-challenge.<domain>.  TXT  "tillbridge-verification=<token>"

and presses "check now" (or waits for the periodic recheck). The lookup goes through a resolver,
a callable `(name) -> list[str]` of TXT strings, taken from the `DOMAIN_TXT_RESOLVER` setting (a
dotted path) unless one is passed in; tests install a fake one there. A resolver raises
`DnsLookupError` when it cannot tell (timeout, SERVFAIL): the status is then left as it was.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable, Iterable

import dns.exception
import dns.resolver
import idna
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string

from tenants.audit import audit_record
from tenants.models import Domain, DomainVerification, Partner, User

CHALLENGE_LABEL = "_tillbridge-challenge"
TXT_PREFIX = "tillbridge-verification="
MAX_HOST_LENGTH = 253
MAX_LABEL_LENGTH = 63
DNS_TIMEOUT_SECONDS = 5.0
RECHECK_BATCH = 500

TxtResolver = Callable[[str], list[str]]


class DomainRefused(ValidationError):
    """A host refused by one of this module's rules; `rule` names which."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__({"domain": [ValidationError(f"{message} [rule: {rule}]", code=rule)]})


class DnsLookupError(Exception):
    """The resolver could not tell whether the record exists (timeout, server failure)."""


# ---- host names -------------------------------------------------------------------------------


def _is_ip_literal(value: str) -> bool:
    candidate = value.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    candidate = candidate.split("%", 1)[0]  # an IPv6 zone id
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


def host_normalise(domain: str) -> str:
    """The host in canonical form (IDNA A-labels, lower case, no trailing dot), or DomainRefused."""
    raw = (domain or "").strip()
    if _is_ip_literal(raw):
        raise DomainRefused("ip_address", f"{raw!r} is an IP address; use a host name.")
    text = raw.rstrip(".")
    if not text or any(char.isspace() for char in text) or "/" in text or "@" in text:
        raise DomainRefused("invalid_hostname", f"{raw!r} is not a valid host name.")
    try:
        host = idna.encode(text, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise DomainRefused("invalid_hostname", f"{raw!r} is not a valid host name ({exc}).") from exc
    labels = host.split(".")
    valid = (
        len(host) <= MAX_HOST_LENGTH
        and all(
            0 < len(label) <= MAX_LABEL_LENGTH
            and label[0] != "-"
            and label[-1] != "-"
            and all(char.isascii() and (char.isalnum() or char == "-") for char in label)
            for label in labels
        )
        and not labels[-1].isdigit()
    )
    if not valid:
        if labels and labels[-1].isdigit() and all(label.isdigit() for label in labels):
            raise DomainRefused("ip_address", f"{raw!r} is an IP address; use a host name.")
        raise DomainRefused(
            "invalid_hostname",
            f"{raw!r} is not a valid host name (labels of 1-{MAX_LABEL_LENGTH} letters, digits and hyphens, "
            f"at most {MAX_HOST_LENGTH} characters).",
        )
    if host == "localhost":
        raise DomainRefused("localhost", "localhost cannot be a portal host.")
    return host


def host_within(host: str, zone: str) -> bool:
    """True if `host` is `zone` or a host under it."""
    return host == zone or host.endswith("." + zone)


def operator_domain() -> str:
    return settings.PORTAL_PUBLIC_DOMAIN.strip().lower().rstrip(".")


def _console_domains(*, partner: Partner | None = None, exclude: Partner | None = None) -> list[str]:
    rows = Domain.objects.filter(partner__isnull=False, tenant__schema_name="public")
    if partner is not None:
        rows = rows.filter(partner=partner)
    if exclude is not None:
        rows = rows.exclude(partner=exclude)
    return list(rows.values_list("domain", flat=True))


def _verified_custom_domains(*, exclude: Partner | None = None) -> list[str]:
    rows = DomainVerification.objects.filter(status=DomainVerification.Status.VERIFIED)
    if exclude is not None:
        rows = rows.exclude(partner=exclude)
    return list(rows.values_list("domain", flat=True))


def _overlapping(host: str, zones: Iterable[str]) -> str | None:
    """A zone that `host` is on, under or above, if any."""
    for zone in zones:
        if host_within(host, zone) or host_within(zone, host):
            return zone
    return None


def _in_use(host: str) -> None:
    if Domain.objects.filter(domain=host).exists():
        raise DomainRefused("in_use", f"The domain {host} is already in use.")


# ---- the three kinds of host ------------------------------------------------------------------


def partner_domain_validate(domain: str) -> str:
    """A new partner console domain (chosen by the operator)."""
    host = host_normalise(domain)
    _in_use(host)
    if host == operator_domain():
        raise DomainRefused("operator_domain", f"{host} is the operator's domain.")
    zone = _overlapping(host, _console_domains() + _verified_custom_domains())
    if zone is not None:
        raise DomainRefused("another_partner", f"{host} overlaps {zone}, which belongs to a partner.")
    return host


def tenant_domain_validate(*, partner: Partner, domain: str) -> tuple[str, DomainVerification | None]:
    """The canonical host for a new tenant of `partner`, and the verified custom domain it rests on
    (None for a host under the partner's own console domain)."""
    host = host_normalise(domain)
    for zone in _console_domains(exclude=partner) + _verified_custom_domains(exclude=partner):
        if host_within(host, zone):
            raise DomainRefused("another_partner", f"{host} is under {zone}, another partner's domain.")
    if host == operator_domain():
        raise DomainRefused("operator_domain", f"{host} is the operator's domain.")
    own = _console_domains(partner=partner)
    if host in own:
        raise DomainRefused("partner_console", f"{host} is your partner console's own host.")
    _in_use(host)
    if any(host.endswith("." + zone) for zone in own):
        return host, None
    claims = sorted(
        (claim for claim in partner.domain_verifications.all() if host_within(host, claim.domain)),
        key=lambda claim: -len(claim.domain),
    )
    verified = next((claim for claim in claims if claim.is_verified), None)
    if verified is not None:
        return host, verified
    if claims:
        raise DomainRefused(
            "unverified_custom_domain",
            f"{claims[0].domain} is not verified yet: publish its TXT record and check it first.",
        )
    if host_within(host, operator_domain()):
        raise DomainRefused("operator_domain", f"{host} is under the operator's domain {operator_domain()}.")
    suffix = " or ".join(own) or "your partner domain"
    raise DomainRefused(
        "not_partner_domain", f"{host} must be under {suffix}, or under a custom domain you have verified."
    )


def custom_domain_validate(*, partner: Partner, domain: str) -> str:
    """A custom domain a partner wants to claim (before any DNS check)."""
    host = host_normalise(domain)
    if "." not in host:
        raise DomainRefused("invalid_hostname", f"{host} is a single label; claim a registered domain.")
    if host.endswith(".localhost"):
        raise DomainRefused("localhost", f"{host} is under localhost, which never resolves publicly.")
    operator = operator_domain()
    if host_within(host, operator) or host_within(operator, host):
        raise DomainRefused("operator_domain", f"{host} overlaps the operator's domain {operator}.")
    zone = _overlapping(host, _console_domains())
    if zone is not None:
        raise DomainRefused("partner_console", f"{host} overlaps the partner console domain {zone}.")
    zone = _overlapping(host, _verified_custom_domains(exclude=partner))
    if zone is not None:
        raise DomainRefused("another_partner", f"{host} overlaps {zone}, verified by another partner.")
    if partner.domain_verifications.filter(domain=host).exists():
        raise DomainRefused("duplicate", f"You have already added {host}.")
    return host


# ---- DNS --------------------------------------------------------------------------------------


def challenge_name(domain: str) -> str:
    return f"{CHALLENGE_LABEL}.{domain}"


def challenge_value(token: str) -> str:
    return f"{TXT_PREFIX}{token}"


def dns_txt_records(name: str) -> list[str]:
    """The TXT strings at `name` from the system's resolvers ([] when the name or record is absent)."""
    resolver = dns.resolver.Resolver()
    resolver.lifetime = DNS_TIMEOUT_SECONDS
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:
        raise DnsLookupError(f"DNS lookup of {name} failed: {exc.__class__.__name__}") from exc
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]


def txt_resolver() -> TxtResolver:
    return import_string(settings.DOMAIN_TXT_RESOLVER)


# ---- custom domain services -------------------------------------------------------------------


def domain_verifications_for_partner(*, partner: Partner) -> QuerySet[DomainVerification]:
    return DomainVerification.objects.filter(partner=partner).order_by("domain", "pk")


def domain_verification_create(
    *, partner: Partner, domain: str, actor: User | None = None, actor_label: str | None = None
) -> DomainVerification:
    """Claim a custom domain: pending, with a fresh token for its TXT record."""
    host = custom_domain_validate(partner=partner, domain=domain)
    try:
        return _domain_verification_insert(partner=partner, host=host, actor=actor, actor_label=actor_label)
    except IntegrityError as exc:  # a concurrent request added the same name
        raise DomainRefused("duplicate", f"You have already added {host}.") from exc


@transaction.atomic
def _domain_verification_insert(
    *, partner: Partner, host: str, actor: User | None, actor_label: str | None
) -> DomainVerification:
    verification = DomainVerification.objects.create(partner=partner, domain=host, token=secrets.token_hex(16))
    audit_record(
        actor=actor,
        action="domain_verification.create",
        target=verification,
        partner=partner,
        changes={"domain": host},
        actor_label=actor_label,
    )
    return verification


def domain_verification_check(
    *,
    verification: DomainVerification,
    resolver: TxtResolver | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> DomainVerification:
    """Look the record up now. Found: verified. Missing: a verified domain becomes failed (its
    tenant hosts stop routing), a pending one stays pending. Lookup error: status unchanged."""
    resolver = resolver or txt_resolver()
    expected = challenge_value(verification.token)
    now = timezone.now()
    try:
        found = expected in [value.strip() for value in resolver(challenge_name(verification.domain))]
        error = "" if found else f"No TXT record {expected} at {challenge_name(verification.domain)}."
    except DnsLookupError as exc:
        found, error = None, str(exc)
    previous = verification.status
    status = previous
    if found:
        taken = (
            DomainVerification.objects.filter(domain=verification.domain, status=DomainVerification.Status.VERIFIED)
            .exclude(pk=verification.pk)
            .exists()
        )
        if taken:
            status, error = DomainVerification.Status.FAILED, "Another partner has verified this domain."
        else:
            status = DomainVerification.Status.VERIFIED
    elif found is False and previous == DomainVerification.Status.VERIFIED:
        status = DomainVerification.Status.FAILED
    try:
        with transaction.atomic():
            verification.status = status
            verification.last_error = error[:255]
            verification.checked_at = now
            if status == DomainVerification.Status.VERIFIED and previous != status:
                verification.verified_at = now
            verification.save(update_fields=["status", "last_error", "checked_at", "verified_at"])
            if status != previous:
                audit_record(
                    actor=actor,
                    action="domain_verification.status",
                    target=verification,
                    partner=verification.partner,
                    changes={"status": [previous, status], "error": error[:255]},
                    actor_label=actor_label,
                )
    except IntegrityError:  # another partner verified the same name at the same moment
        verification.refresh_from_db()
        return domain_verification_check(verification=verification, resolver=resolver, actor=actor)
    return verification


def domain_verifications_recheck(*, resolver: TxtResolver | None = None, limit: int = RECHECK_BATCH) -> dict[str, int]:
    """Check every claim, least recently checked first: verifies pending ones, flags verified ones
    whose record is gone. One claim's failure does not stop the others."""
    resolver = resolver or txt_resolver()
    counts: dict[str, int] = {}
    claims = DomainVerification.objects.select_related("partner").order_by(F("checked_at").asc(nulls_first=True), "pk")
    for claim in claims[:limit]:
        previous = claim.status
        claim = domain_verification_check(verification=claim, resolver=resolver)
        key = claim.status if claim.status != previous else "unchanged"
        counts[key] = counts.get(key, 0) + 1
    return counts
