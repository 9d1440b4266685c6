"""Password-reset tokens bound to the host they were issued for.

A token minted for `acme.northwind.localhost` hashes that host in, so it is worthless on any other
host; and a token is accepted only on a host the user belongs to (`membership_role_for_host`).
allauth uses this class for every reset link (ACCOUNT_PASSWORD_RESET_TOKEN_GENERATOR).

This module deliberately imports nothing from `allauth.account.forms`: allauth instantiates the
generator while that module is being imported."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.core import context as allauth_context
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.http import HttpRequest
from django_tenants.utils import remove_www

from tenants.selectors import membership_role_for_host


def request_hostname(request: HttpRequest | None) -> str:
    """The host name a request was made on, as routing sees it: no port, no `www.`, lower case."""
    if request is None:
        return ""
    return remove_www(request.get_host().split(":")[0]).lower()


class HostBoundTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset token, with the user's email addresses and the host mixed into the hash.

    `host` fixes the host (a link mailed for a host other than the one asked on, e.g. an
    invitation sent from the partner console for a tenant portal); without it the host is the one
    of the request being served (allauth's request context)."""

    def __init__(self, host: str | None = None) -> None:
        super().__init__()
        self.host = host

    def _bound_host(self) -> str:
        if self.host is not None:
            return self.host.lower()
        return request_hostname(allauth_context.request)

    def _make_hash_value(self, user, timestamp) -> str:
        emails = sorted(EmailAddress.objects.filter(user_id=user.pk).values_list("email", flat=True))
        return f"{super()._make_hash_value(user, timestamp)}|{'|'.join(emails)}|host:{self._bound_host()}"

    def check_token(self, user, token: str | None) -> bool:
        host = self._bound_host()
        if user is None or not host or membership_role_for_host(user=user, host=host) is None:
            return False
        return super().check_token(user, token)
