from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("filters/", include("filters.urls")),
    path("", include("accounts.urls")),
]
