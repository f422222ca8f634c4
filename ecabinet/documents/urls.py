from django.urls import path

from ecabinet.documents import reader_views

app_name = "documents"

urlpatterns = [
    path("search/", reader_views.search_page, name="search"),
    path("<int:document_id>/read/", reader_views.read_document, name="read"),
    path("versions/<int:version_id>/read/", reader_views.reader, name="reader"),
    path("meetings/<int:meeting_id>/dossier/", reader_views.dossier, name="dossier"),
    path("meetings/<int:meeting_id>/reads/", reader_views.reads_page, name="reads"),
]
