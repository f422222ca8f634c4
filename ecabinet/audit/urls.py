from django.urls import path

from ecabinet.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.log_view, name="log"),
    path("export", views.export_view, name="export"),
]
