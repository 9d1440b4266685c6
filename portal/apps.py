from django.apps import AppConfig
from django.conf import settings

from core.logging import logging_configure
from core.telemetry import telemetry_configure


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal shell"

    def ready(self) -> None:
        logging_configure(level=settings.LOG_LEVEL)
        telemetry_configure()  # nothing at all unless OTEL_EXPORTER_OTLP_ENDPOINT is set
