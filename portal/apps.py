from django.apps import AppConfig
from django.conf import settings


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal shell"

    def ready(self) -> None:
        from portal.logging import logging_configure

        logging_configure(level=settings.LOG_LEVEL)
