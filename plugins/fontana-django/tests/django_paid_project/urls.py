from django.urls import path

from django_paid_project import views

urlpatterns = [
    path("paid", views.paid),
    path("priced", views.Priced.as_view()),
    path("raise", views.fails_by_raising),
    path("fail", views.fails_by_status),
    path("stream", views.stream),
    path("big", views.big),
    path("gate", views.gate),
]
