from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("filters/", include("filters.urls")),
    path("mail/", include("webmail.urls")),
    path("", include("accounts.urls")),
]

# A backend that is down before any view runs (say, the database behind the session)
# still gets the clear 503 page.
handler500 = "duckmail.middleware.server_error"
