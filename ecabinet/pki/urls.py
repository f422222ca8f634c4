from django.urls import path

from ecabinet.pki import views

app_name = "pki"

urlpatterns = [
    path("", views.my_keys_view, name="my-keys"),
    path("queue/", views.queue_view, name="queue"),
    path("requests/<int:request_id>/approve/", views.approve_view, name="approve"),
    path("requests/<int:request_id>/reject/", views.reject_view, name="reject"),
    path("certificates/<int:certificate_id>/revoke/", views.revoke_view, name="revoke"),
    path("crl", views.crl_view, name="crl"),
    path("root.crl", views.root_crl_view, name="root-crl"),
    path("ca.cer", views.ca_cer_view, name="ca-cer"),
    path("ca.pem", views.ca_pem_view, name="ca-pem"),
]
