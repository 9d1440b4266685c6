from django.apps import AppConfig


class ErpConfig(AppConfig):
    """The ERP adapters and their models (target, pushes, chart imports). The label is `erp`; the
    tables keep the names they had under posting (`posting_erptarget`, ...), so no data moved."""

    name = "posting.erp"
    label = "erp"
    verbose_name = "ERP"

    def ready(self) -> None:
        from connectors.services import connection_delete_guard_register  # import here: needs the app registry
        from posting.erp import health, tasks, tokens  # noqa: F401 # import here: registers the push sweep, the token keepalive and the ERP's flow-health signal
        from posting.erp.selectors import erp_target_delete_refusal  # import here: needs the app registry

        connection_delete_guard_register(erp_target_delete_refusal)
