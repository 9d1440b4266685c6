"""Deprecating an API endpoint: `deprecated = Deprecation(...)` on a view (see docs/api-changelog.md).

Every response of such a view carries `Deprecation` (RFC 9745: when it was deprecated, `@<unix
seconds>`), `Sunset` (RFC 8594: the HTTP date after which it may stop answering) and a `Link` to its
successor and to the policy; core.api.schema marks its operation `deprecated: true` and documents
the three headers. Clients that read either header learn of the end date without reading changelogs."""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass

from django.utils.http import http_date

POLICY_URL = "https://docs.tillbridge.example/api-changelog#deprecation-policy"


@dataclass(frozen=True)
class Deprecation:
    since: datetime.date
    sunset: datetime.date
    successor: str = ""
    policy: str = POLICY_URL

    def headers(self) -> dict[str, str]:
        links = [f'<{self.policy}>; rel="deprecation"']
        if self.successor:
            links.insert(0, f'<{self.successor}>; rel="successor-version"')
        return {
            "Deprecation": f"@{calendar.timegm(self.since.timetuple())}",
            "Sunset": http_date(calendar.timegm(self.sunset.timetuple())),
            "Link": ", ".join(links),
        }
