"""The OpenAPI schema class every API view uses (REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS).

drf-spectacular reads an operation's description from the docstrings up the MRO, so a view without
its own docstring showed its base class's ("Base of this module's views…") in Swagger, Redoc and
every generated SDK. Here only what the view itself says counts: `extend_schema(description=…)`,
else the handler's own docstring, else the view class's own docstring (never a base class's). The
summary is `extend_schema(summary=…)` or the description's first sentence. A view with a
`deprecated` attribute (core.api.deprecation) is marked deprecated and documents its headers."""

from __future__ import annotations

import inspect
import re

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

SUMMARY_MAX = 90
FIRST_SENTENCE = re.compile(r"^(.+?)(?:\.\s|\.$|:\s|\n\n|$)", re.DOTALL)
DEPRECATION_HEADERS = [
    OpenApiParameter(
        "Deprecation",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=True,
        description="When this endpoint was deprecated, as `@<unix seconds>` (RFC 9745).",
    ),
    OpenApiParameter(
        "Sunset",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=True,
        description="The HTTP date after which this endpoint may stop answering (RFC 8594).",
    ),
    OpenApiParameter(
        "Link",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=True,
        description='The replacement and the policy (`rel="successor-version"`, `rel="deprecation"`).',
    ),
]


def _own_doc(obj: object) -> str:
    doc = getattr(obj, "__doc__", None) if not inspect.isclass(obj) else vars(obj).get("__doc__")
    return inspect.cleandoc(doc) if doc else ""


def summary_of(description: str) -> str:
    """The first sentence of a description, without its full stop, cut at a word if long."""
    match = FIRST_SENTENCE.match(description.strip())
    sentence = " ".join((match.group(1) if match else "").split()).rstrip(".")
    if len(sentence) <= SUMMARY_MAX:
        return sentence
    return sentence[:SUMMARY_MAX].rsplit(" ", 1)[0] + "…"


class ApiAutoSchema(AutoSchema):
    def get_description(self) -> str:
        handler = getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)
        return _own_doc(handler) or _own_doc(type(self.view))

    def get_summary(self) -> str | None:
        return summary_of(self.get_description()) or None

    def is_deprecated(self) -> bool:
        return getattr(self.view, "deprecated", None) is not None

    def get_override_parameters(self) -> list:
        parameters = list(super().get_override_parameters())
        if self.is_deprecated():
            parameters.extend(DEPRECATION_HEADERS)
        return parameters
