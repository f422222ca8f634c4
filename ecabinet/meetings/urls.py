from django.urls import path

from ecabinet.meetings import views

app_name = "meetings"

urlpatterns = [
    path("", views.meeting_list, name="list"),
    path("new/", views.meeting_new, name="new"),
    path("calendar/", views.calendar_page, name="calendar"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar-feed"),
    path("<int:meeting_id>/", views.meeting_detail, name="detail"),
    path("<int:meeting_id>/meeting.ics", views.meeting_ics, name="ics"),
    path("<int:meeting_id>/transition/<str:action>/", views.meeting_transition, name="transition"),
    path("<int:meeting_id>/participants/", views.participant_add, name="participant-add"),
    path("<int:meeting_id>/propose/", views.item_propose, name="propose"),
    path("<int:meeting_id>/positions/", views.positions_page, name="positions"),
    path("<int:meeting_id>/positions/missing/", views.positions_missing, name="missing"),
    path("<int:meeting_id>/consent/<str:op>/", views.consent_action, name="consent"),
    path("items/<int:item_id>/", views.item_detail, name="item"),
]
