from django.urls import path

from provider import views

urlpatterns = [
    path("", views.index),
    path("weather", views.weather),
    path("summary", views.Summary.as_view()),
]
