"""Pages, included at the site root."""

from django.urls import path

from . import views

app_name = "verification"

urlpatterns = [
    path("checks/", views.workbench, name="workbench"),
    path("checks/tasks/<int:task_id>/", views.task_detail, name="task"),
    path("checks/tasks/<int:task_id>/evidence/", views.task_evidence, name="task_evidence"),
    path("checks/tasks/<int:task_id>/data-check/", views.task_data_check, name="task_data_check"),
    path("checks/tasks/<int:task_id>/assist/", views.task_assist, name="task_assist"),
    path(
        "checks/tasks/<int:task_id>/assist/<int:request_id>/answer/",
        views.task_assist_answer,
        name="task_assist_answer",
    ),
    path(
        "checks/tasks/<int:task_id>/countersign/", views.task_countersign, name="task_countersign"
    ),
    path("checks/tasks/<int:task_id>/reassign/", views.task_reassign, name="task_reassign"),
    path("checks/evidence/<int:evidence_id>/", views.evidence_file, name="evidence"),
    path("checks/draws/", views.draws, name="draws"),
    path("checks/draws/run/<int:plan_id>/", views.draw_run, name="draw_run"),
    path("checks/draws/<int:draw_id>/", views.draw_detail, name="draw"),
    path(
        "checks/draws/<int:draw_id>/population.tsv", views.draw_population, name="draw_population"
    ),
    path("checks/my/", views.my_checks, name="my_checks"),
    path("checks/my/<int:task_id>/material/", views.my_check_material, name="my_check_material"),
    path(
        "checks/promises/<str:number>/<int:term_id>/",
        views.promise_fulfil,
        name="promise_fulfil",
    ),
    path("checks/revocations/", views.revocations, name="revocations"),
    path("checks/revocations/<str:number>/", views.revoke, name="revoke"),
    path("spot-checks/", views.public_results, name="public"),
    path(
        "spot-checks/<int:draw_id>/population.tsv",
        views.public_population,
        name="public_population",
    ),
]
