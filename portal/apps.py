from django.apps import AppConfig
from django.conf import settings

from core.logging import logging_configure


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal shell"

    def ready(self) -> None:
        logging_configure(level=settings.LOG_LEVEL)
