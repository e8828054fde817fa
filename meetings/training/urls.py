"""Training pages under /meetings/<id>/ (included by meetings/urls.py)."""
from django.urls import path

from meetings.training import views

urlpatterns = [
    path("<int:meeting_id>/course/", views.course, name="course"),
    path("<int:meeting_id>/completion/", views.completion_page, name="completion"),
    path("<int:meeting_id>/completion.csv", views.completion_csv, name="completion-csv"),
    path("<int:meeting_id>/completion.pdf", views.completion_pdf, name="completion-pdf"),
    path("<int:meeting_id>/completion/remind/", views.remind, name="completion-remind"),
]
