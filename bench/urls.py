"""The project's URLs plus the baseline endpoint, for the benchmark only."""

from django.urls import path

from bench.bareapp.views import BareInsertView
from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [path("bench/bare/", BareInsertView.as_view()), *project_urlpatterns]
