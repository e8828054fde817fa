from django.urls import path

from documents import views

app_name = "documents"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.compose, name="new"),
    path("<int:doc_id>/", views.detail, name="detail"),
    path("<int:doc_id>/edit/", views.edit, name="edit"),
    path("<int:doc_id>/do/", views.act, name="act"),
    path("<int:doc_id>/fonts/<slug:role>.<slug:digest>.woff2", views.paper_font, name="paper_font"),
    path("<int:doc_id>/tracking/", views.tracking, name="tracking"),
]
