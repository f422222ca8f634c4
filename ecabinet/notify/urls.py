from django.urls import path

from ecabinet.notify import views

app_name = "notify"

urlpatterns = [
    path("", views.centre, name="centre"),
    path("sw.js", views.service_worker, name="service-worker"),
    path("<int:notification_id>/open/", views.open_notification, name="open"),
    path("<int:notification_id>/read/", views.read, name="read"),
    path("read-all/", views.read_all, name="read-all"),
    path("preferences/", views.preferences, name="preferences"),
    path("conversations/", views.conversations, name="conversations"),
    path("conversations/<int:conversation_id>/", views.conversation, name="conversation"),
    path("meetings/<int:meeting_id>/chat/", views.meeting_chat, name="meeting-chat"),
    path("meetings/<int:meeting_id>/receipts/", views.receipts, name="receipts"),
]
