"""The Celery application: worker and beat share it (`celery -A duckmail ...`)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "duckmail.settings")

app = Celery("duckmail")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.celeryd_init.connect
def survive_broker_outages(**kwargs) -> None:
    """In workers only: a lost Redis connection is a connection error, never a crash.

    When Redis goes away while the worker holds unacknowledged messages (acks_late: a task
    running, or one whose ack just failed; a retry waiting for its countdown), the consumer
    closes the broken connection: kombu first detaches the transport (`Connection.collect()`
    sets `transport.client = None`), then closes the channel again, whose QoS tries to put
    the messages back through a *new* Redis client built from that detached client, and
    `Channel._connparams` fails with AttributeError("'NoneType' object has no attribute
    'hostname'"). That is no connection error, so it escapes kombu's `ignore_errors` and
    Celery stops the worker ("Unrecoverable error"); see celery/kombu#582 and #970.

    Raising redis' ConnectionError instead lets the consumer do what it does for every other
    connection error: reconnect. Nothing is lost: the messages stay in Redis' unacked set
    and come back after the visibility timeout. (No setting avoids this; remove when kombu
    treats a detached channel as disconnected.)
    """
    from kombu.transport import redis as kombu_redis

    channel = kombu_redis.Channel
    if getattr(channel._connparams, "duckmail_patched", False):
        return
    connparams = channel._connparams

    def _connparams(self, asynchronous=False):
        if self.connection.client is None:
            raise kombu_redis.redis.exceptions.ConnectionError("the broker connection was closed")
        return connparams(self, asynchronous=asynchronous)

    _connparams.duckmail_patched = True
    channel._connparams = _connparams
