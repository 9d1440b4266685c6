from django.urls import path

from posting import views

urlpatterns = [
    path("journals/", views.journals, name="posting_journals"),
    path("journals/<int:entry_id>/", views.journal, name="posting_journal"),
    path("trial-balance/", views.trial_balance_page, name="posting_trial_balance"),
    path("export.<str:fmt>", views.ledger_export, name="posting_export"),
    path("policy/", views.policy, name="posting_policy"),
    path("period/close/", views.period_close_page, name="posting_period_close"),
    path("period/reopen/", views.period_reopen_page, name="posting_period_reopen"),
    path("batches/", views.batches, name="posting_batches"),
    path("batches/<int:pk>/", views.batch, name="posting_batch"),
    path("accounts/<int:pk>/", views.account_ledger_page, name="posting_account_ledger"),
    path("documents/<str:kind>/<int:pk>/", views.source_document_page, name="posting_source"),
    path("payouts/", views.payouts, name="posting_payouts"),
    path("payouts/<int:pk>/", views.payout, name="posting_payout"),
    path("payouts/<int:pk>/recheck/", views.payout_recheck, name="posting_payout_recheck"),
    path("unsettled/", views.unsettled_report, name="posting_unsettled"),
    path("unsettled.csv", views.unsettled_report, {"fmt": "csv"}, name="posting_unsettled_csv"),
]
