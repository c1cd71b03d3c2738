from django.urls import path

from . import views

app_name = "oversight"

urlpatterns = [
    # Public: service guides, complaints, published cases.
    path("guides/", views.guide_list, name="guide_list"),
    path("guides/<str:code>/", views.guide_detail, name="guide_detail"),
    path("guides/<str:code>/pdf/", views.guide_pdf, name="guide_pdf"),
    path(
        "guides/<str:code>/materials/<int:pk>/<str:kind>/",
        views.guide_form_file,
        name="guide_form_file",
    ),
    path("complaints/new/", views.complaint_new, name="complaint_new"),
    path("complaints/track/", views.complaint_track_lookup, name="complaint_track_lookup"),
    path(
        "complaints/track/<str:number>/<str:token>/",
        views.complaint_track,
        name="complaint_track",
    ),
    path("notices/", views.notices, name="notices"),
    # The bureau.
    path("bureau/", views.dashboard, name="dashboard"),
    path("bureau/reports/export/", views.report_export, name="report_export"),
    path(
        "bureau/reports/<str:quarter>/prepared.<str:fmt>",
        views.prepared_report_file,
        name="prepared_report_file",
    ),
    path("bureau/jobs/<int:pk>/", views.job_detail, name="job_detail"),
    path("bureau/jobs/<int:pk>/status/", views.job_status, name="job_status"),
    path("bureau/jobs/<int:pk>/download/", views.job_download, name="job_download"),
    path("bureau/complaints/", views.complaint_list, name="complaint_list"),
    path("bureau/complaints/hotline/", views.complaint_hotline, name="complaint_hotline"),
    path("bureau/complaints/<str:number>/", views.complaint_detail, name="complaint_detail"),
    path("bureau/complaints/<str:number>/pdf/", views.complaint_pdf, name="complaint_pdf"),
    path(
        "bureau/complaints/<str:number>/attachments/<int:pk>/",
        views.complaint_attachment,
        name="complaint_attachment",
    ),
    # Catalog lists.
    path("lists/", views.list_index, name="list_index"),
    path("lists/template.xlsx", views.list_template, name="list_template"),
    path("lists/export.<str:fmt>", views.catalog_export, name="catalog_export"),
    path("lists/<int:pk>/", views.list_detail, name="list_detail"),
    path("lists/<int:pk>/errors.<str:fmt>", views.list_errors_download, name="list_errors"),
]
