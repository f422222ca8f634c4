from django.urls import path

from ecabinet.meetings import followup_views as views

app_name = "followup"

urlpatterns = [
    path("tasks/", views.my_tasks, name="my-tasks"),
    path("tasks/<int:task_id>/", views.task_detail, name="task"),
    path("<int:meeting_id>/followup/", views.meeting_tasks, name="meeting-tasks"),
    path("<int:meeting_id>/items/<int:item_id>/decision/", views.decision_save, name="decision"),
    path("<int:meeting_id>/items/<int:item_id>/tasks/new/", views.task_create, name="task-create"),
    path("<int:meeting_id>/minutes/", views.minutes_page, name="minutes"),
    path("<int:meeting_id>/minutes/draft/", views.minutes_draft, name="minutes-draft"),
    path("<int:meeting_id>/minutes/edit/", views.minutes_edit, name="minutes-edit"),
    path("<int:meeting_id>/minutes/submit/", views.minutes_submit, name="minutes-submit"),
    path("<int:meeting_id>/minutes/approve/", views.minutes_approve, name="minutes-approve"),
    path("<int:meeting_id>/minutes.pdf", views.minutes_pdf, name="minutes-pdf"),
    path("<int:meeting_id>/report/", views.report_page, name="report"),
    path("<int:meeting_id>/report/baseline/", views.baseline_save, name="baseline"),
]
