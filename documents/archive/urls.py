from django.urls import path

from documents.archive import views

app_name = "archive"
urlpatterns = [
    path("", views.index, name="index"),
    path("do/", views.act, name="act"),
    path("items/<int:item_id>/", views.item_page, name="item"),
    path("items/<int:item_id>/metadata.xml", views.item_xml, name="item-xml"),
    path("items/<int:item_id>/components/<int:component_id>/", views.component, name="component"),
    path("reports/", views.reports, name="reports"),
    path("reports/<int:run_id>/", views.report, name="report"),
    path("reports/<int:run_id>.json", views.report, {"fmt": "json"}, name="report-json"),
    path("reports/<int:run_id>.pdf", views.report, {"fmt": "pdf"}, name="report-pdf"),
    path("catalogue/", views.catalogue, name="catalogue"),
    path("catalogue.pdf", views.catalogue, {"fmt": "pdf"}, name="catalogue-pdf"),
    path("catalogue.xlsx", views.catalogue, {"fmt": "xlsx"}, name="catalogue-xlsx"),
    path("statistics.pdf", views.stats_pdf, name="statistics-pdf"),
    path("export/", views.export_bag, name="export"),
    path("manage/", views.manage, name="manage"),
    path("settings/", views.settings_page, name="settings"),
]
