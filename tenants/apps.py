from django.apps import AppConfig

from core.api.backends import ApiBackends, api_backends_register


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Partners and tenants"

    def ready(self) -> None:
        from tenants import tasks  # noqa: F401 # import here: registers the webhook tasks
        from tenants.api_keys import ROLE_SCOPES, api_key_check, api_key_touch  # import here: needs the app registry
        from tenants.models import ApiKey, IdempotencyRecord  # import here: needs the app registry
        from tenants.usage import usage_increment  # import here: needs the app registry

        # core's API base (authentication, scopes, usage metering, Idempotency-Key) reaches the
        # principals that tenants owns through this registration, never by importing tenants.
        api_backends_register(
            ApiBackends(
                key_model=ApiKey,
                key_check=api_key_check,
                key_touch=api_key_touch,
                role_scopes=ROLE_SCOPES,
                usage_increment=usage_increment,
                idempotency_model=IdempotencyRecord,
            )
        )
