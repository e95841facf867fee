from django.urls import path

from . import views

app_name = "compensation"
urlpatterns = [
    path("", views.AccountantHomeView.as_view(), name="home"),
    path("payments/", views.PaymentsView.as_view(), name="payments"),
    path("payments/bank-import/", views.BankImportView.as_view(), name="bank_import"),
    path("payments/bank-import/jobs/<int:pk>/", views.BankImportJobView.as_view(), name="bank_import_job"),
    path("payments/bank-lines/<int:pk>/", views.BankLineView.as_view(), name="bank_line"),
    path("statements/", views.StatementListView.as_view(), name="statements"),
    path("statements/my/", views.MyStatementView.as_view(), name="my_statement"),
    path("statements/payroll/", views.PayrollExportView.as_view(), name="payroll_export"),
    path("statements/<str:username>/<str:month>/", views.StatementDetailView.as_view(), name="statement"),
    path(
        "statements/<str:username>/<str:month>/print/",
        views.StatementPrintView.as_view(),
        name="statement_print",
    ),
    path(
        "statements/<str:username>/<str:month>/pdf/", views.StatementPdfView.as_view(), name="statement_pdf"
    ),
    path(
        "statements/<str:username>/<str:month>/export/",
        views.StatementExportView.as_view(),
        name="statement_export",
    ),
    path(
        "statements/<str:username>/<str:month>/send/",
        views.StatementSendView.as_view(),
        name="statement_send",
    ),
    path("scheme/", views.SchemeView.as_view(), name="scheme"),
    path("expenses/", views.ExpensesView.as_view(), name="expenses"),
    path("expenses/<int:pk>/receipt/", views.ExpenseReceiptView.as_view(), name="expense_receipt"),
]
