from django.urls import path

from . import print_views

app_name = "printing"

urlpatterns = [
    # Public: the page a form's QR code opens.
    path("verify/<str:number>/<str:token>/", print_views.verify, name="verify"),
    # The service window.
    path("window/print/<str:number>/", print_views.window_print, name="window_print"),
    path("window/paper/", print_views.window_paper, name="window_paper"),
    path("window/blank/", print_views.window_blank_list, name="window_blank"),
    path("window/blank/<str:code>/", print_views.window_blank_form, name="window_blank_form"),
    path("window/batch/", print_views.window_batch, name="window_batch"),
    path("window/batch/<int:job_id>/", print_views.window_batch_job, name="window_batch_job"),
    path(
        "window/batch/<int:job_id>/status/",
        print_views.window_batch_status,
        name="window_batch_status",
    ),
    path(
        "window/batch/<int:job_id>/download/",
        print_views.window_batch_download,
        name="window_batch_download",
    ),
]
