from django.urls import path

from ecabinet.voting import views

app_name = "voting"

urlpatterns = [
    path("", views.poll_list, name="list"),
    path("<int:poll_id>/", views.poll_page, name="poll"),
]
