from django.urls import path

from .views import clients, lead_import

app_name = "clients"
urlpatterns = [
    path("", clients.ClientListView.as_view(), name="list"),
    path("new/", clients.ClientCreateView.as_view(), name="create"),
    path("import/", lead_import.LeadImportView.as_view(), name="import"),
    path("import/jobs/<int:pk>/", lead_import.LeadImportJobView.as_view(), name="import_job"),
    path("export/", clients.ClientExportView.as_view(), name="export"),
    path("<int:pk>/", clients.ClientDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", clients.ClientUpdateView.as_view(), name="edit"),
    path("<int:pk>/requisites/", clients.ClientRequisitesView.as_view(), name="requisites"),
    path("<int:pk>/terms/", clients.ClientPaymentTermsView.as_view(), name="terms"),
    path("<int:pk>/terms/request/", clients.ClientTermsRequestView.as_view(), name="terms_request"),
    path("terms-requests/<int:pk>/", clients.TermsRequestDecideView.as_view(), name="terms_request_decide"),
    path("<int:pk>/contacts/", clients.ContactAddView.as_view(), name="contact_add"),
    path("<int:pk>/transfer/", clients.ClientTransferView.as_view(), name="transfer"),
]
