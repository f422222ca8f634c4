from django.urls import path

from ecabinet.documents import reader_views, registry_views, upload_views

app_name = "documents"

urlpatterns = [
    path("search/", reader_views.search_page, name="search"),
    path("<int:document_id>/read/", reader_views.read_document, name="read"),
    path("versions/<int:version_id>/read/", reader_views.reader, name="reader"),
    path("meetings/<int:meeting_id>/dossier/", reader_views.dossier, name="dossier"),
    path("meetings/<int:meeting_id>/reads/", reader_views.reads_page, name="reads"),
    path("meetings/<int:meeting_id>/upload/", upload_views.upload_page, name="upload"),
    path("meetings/<int:meeting_id>/registry/", registry_views.registry_page, name="meeting-registry"),
    path("registry/", registry_views.registry_page, name="registry"),
    path("registry/new/", registry_views.registry_new, name="registry-new"),
    path("registry/<int:record_id>/", registry_views.registry_detail, name="registry-detail"),
    path("registry/<int:record_id>/movements/", registry_views.registry_movement, name="registry-movement"),
]
