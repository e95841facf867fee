from django.urls import path

from .views import approvals, catalogue, payments, pipeline, production

app_name = "deals"
urlpatterns = [
    path("", pipeline.DealListView.as_view(), name="list"),
    path("board/", pipeline.BoardView.as_view(), name="board"),
    path("board/more/", pipeline.BoardMoreView.as_view(), name="board_more"),
    path("payments/", payments.PaymentListView.as_view(), name="payments"),
    path("new/", pipeline.DealCreateView.as_view(), name="create"),
    path("<int:pk>/", pipeline.DealDetailView.as_view(), name="detail"),
    path("<int:pk>/forms/<slug:key>/", pipeline.DealFormView.as_view(), name="form"),
    path("<int:pk>/advance/", pipeline.AdvanceView.as_view(), name="advance"),
    path("<int:pk>/back/", pipeline.MoveBackView.as_view(), name="move_back"),
    path("<int:pk>/lost/", pipeline.LostView.as_view(), name="lost"),
    path("<int:pk>/restore/", pipeline.RestoreView.as_view(), name="restore"),
    path("<int:pk>/call/", pipeline.CallResultView.as_view(), name="call"),
    path("<int:pk>/proposal/", pipeline.ProposalView.as_view(), name="proposal"),
    path("<int:pk>/samples/", pipeline.SampleRequestView.as_view(), name="samples"),
    path("<int:pk>/follow-up/", pipeline.FollowUpView.as_view(), name="follow_up"),
    path("<int:pk>/order/", pipeline.OrderView.as_view(), name="order"),
    path(
        "order-versions/<int:pk>/limit/", pipeline.OrderVersionLimitView.as_view(), name="order_version_limit"
    ),
    path("<int:pk>/documents/", pipeline.DocumentView.as_view(), name="document"),
    path("<int:pk>/shipment/", pipeline.ShipmentView.as_view(), name="shipment"),
    path("<int:pk>/payments/", pipeline.PaymentView.as_view(), name="payment"),
    path("<int:pk>/refunds/", pipeline.RefundView.as_view(), name="refund"),
    path("<int:pk>/feedback/", pipeline.FeedbackView.as_view(), name="feedback"),
    path("<int:pk>/transfer/", pipeline.TransferView.as_view(), name="transfer"),
    path("transfers/<int:pk>/return/", pipeline.TransferReturnView.as_view(), name="transfer_return"),
    path("documents/<int:pk>/", pipeline.DocumentDownloadView.as_view(), name="document_download"),
    path("products/", catalogue.ProductListView.as_view(), name="products"),
    path("products/new/", catalogue.ProductCreateView.as_view(), name="product_create"),
    path("products/<int:pk>/", catalogue.ProductUpdateView.as_view(), name="product_edit"),
    path("lost-reasons/", catalogue.LostReasonListView.as_view(), name="lost_reasons"),
    path("lost-reasons/new/", catalogue.LostReasonCreateView.as_view(), name="lost_reason_create"),
    path("lost-reasons/<int:pk>/", catalogue.LostReasonUpdateView.as_view(), name="lost_reason_edit"),
    path("approvals/", approvals.HeadApprovalsView.as_view(), name="approvals"),
    path("production/", production.ProductionQueueView.as_view(), name="production_queue"),
    path("production/history/", production.ProductionHistoryView.as_view(), name="production_history"),
    path("production/deals/<int:pk>/", production.ProductionDealView.as_view(), name="production_deal"),
    path("production/samples/<int:pk>/", production.SampleStatusView.as_view(), name="sample_status"),
    path("production/orders/<int:pk>/", production.OrderDecisionView.as_view(), name="order_decision"),
]
