"""The Celery application: worker and beat share it (`celery -A duckmail ...`)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "duckmail.settings")

app = Celery("duckmail")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
