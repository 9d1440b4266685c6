from django.apps import AppConfig


class ErpConfig(AppConfig):
    """The ERP adapters and their models (target, pushes, chart imports). The label is `erp`; the
    tables keep the names they had under posting (`posting_erptarget`, ...), so no data moved."""

    name = "posting.erp"
    label = "erp"
    verbose_name = "ERP"

    def ready(self) -> None:
        from posting.erp import tasks, tokens  # noqa: F401 - registers the push sweep and the token keepalive
