from django.urls import path

from . import views

app_name = "pledges"

urlpatterns = [
    path("", views.home, name="home"),
    path("matters/<str:code>/", views.matter_detail, name="matter_detail"),
    path("matters/<str:code>/certificate/", views.choose_certificate, name="choose_certificate"),
    path("pledges/", views.my_pledges, name="my_pledges"),
    path("pledges/<str:number>/", views.pledge_detail, name="pledge_detail"),
    path("window/", views.window, name="window"),
    path("window/<str:number>/decision/", views.window_decide, name="window_decide"),
]
