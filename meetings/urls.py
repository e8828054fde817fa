from django.urls import include, path

from meetings import views

app_name = "meetings"

urlpatterns = [
    path("", views.meeting_list, name="list"),
    path("new/", views.schedule, name="schedule"),
    path("<int:meeting_id>/", views.detail, name="detail"),
    path("<int:meeting_id>/room/", views.room, name="room"),
    path("<int:meeting_id>/roster/", views.roster, name="roster"),
    path("<int:meeting_id>/attendance/", views.attendance, name="attendance"),
    path("<int:meeting_id>/attendance.csv", views.attendance_csv, name="attendance-csv"),
    path("<int:meeting_id>/attendance.pdf", views.attendance_pdf, name="attendance-pdf"),
    path("<int:meeting_id>/attendance.svg", views.attendance_svg, name="attendance-svg"),
    path("<int:meeting_id>/recordings/<int:recording_id>/", views.recording_page, name="recording"),
    path("<int:meeting_id>/recordings/<int:recording_id>/file", views.recording_file, name="recording-file"),
    path("<int:meeting_id>/materials/", views.upload_material, name="material-upload"),
    path("<int:meeting_id>/materials/<int:material_id>/", views.material_file, name="material"),
    path("<int:meeting_id>/cancel/", views.cancel, name="cancel"),
    path("<int:meeting_id>/invite/", views.invite, name="invite"),
    path("<int:meeting_id>/edit/", views.edit, name="edit"),
    path("<int:meeting_id>/checkin/", views.check_in, name="checkin"),
    path("<int:meeting_id>/checkin/start/", views.start_checkin, name="checkin-start"),
    path("<int:meeting_id>/end/", views.end, name="end"),
    path("", include("meetings.training.urls")),
]
