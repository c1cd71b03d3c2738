from django.urls import path

from . import views

app_name = "credit"

urlpatterns = [
    path("credit/", views.my_credit, name="my_credit"),
    path("credit/records/<int:pk>/", views.my_record, name="my_record"),
    path("credit/records/<int:pk>/statement/", views.statement, name="statement"),
    path("credit/records/<int:pk>/objection/", views.objection, name="objection"),
    path("credit/records/<int:pk>/repair/", views.repair, name="repair"),
    path("credit/files/<int:pk>/", views.attachment, name="file"),
    path("credit/office/", views.office, name="office"),
    path("credit/office/records/<int:pk>/", views.office_record, name="office_record"),
    path("credit/office/records/<int:pk>/decide/", views.office_decide, name="office_decide"),
    path(
        "credit/office/objections/<int:pk>/decide/",
        views.office_objection_decide,
        name="office_objection_decide",
    ),
    path(
        "credit/office/repairs/<int:pk>/decide/",
        views.office_repair_decide,
        name="office_repair_decide",
    ),
    path("credit/office/ledger/", views.office_ledger, name="office_ledger"),
    path("credit/public/", views.public, name="public"),
    path("credit/ledger/checkpoints/", views.checkpoints, name="checkpoints"),
]
