from django.urls import path

from office import views_admin as views

urlpatterns = [
    path("", views.index, name="admin-index"),
    path("units/", views.units_tree, name="admin-units"),
    path("units/<int:unit_id>/", views.unit_page, name="admin-unit"),
    path("units/<int:unit_id>/children/", views.unit_children, name="admin-unit-children"),
    path("people/", views.people, name="admin-people"),
    path("people/new/", views.person_new, name="admin-person-new"),
    path("people/<int:person_id>/", views.person_page, name="admin-person"),
    path("delegations/", views.delegations, name="admin-delegations"),
]
