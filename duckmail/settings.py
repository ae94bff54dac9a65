"""DuckMail settings.

Every setting that differs between machines comes from an environment variable
(`DUCKMAIL_*`), read through the small typed helpers below, which fail loudly on a
malformed value. Defaults are production-safe: DEBUG is off, and without DEBUG a
secret key must be given.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(f"DUCKMAIL_{name}", default)


def envbool(name: str, default: bool = False) -> bool:
    value = os.environ.get(f"DUCKMAIL_{name}")
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"DUCKMAIL_{name} must be a boolean, not {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(f"DUCKMAIL_{name}")
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"DUCKMAIL_{name} must be an integer, not {value!r}")


def envfloat(name: str, default: float) -> float:
    value = os.environ.get(f"DUCKMAIL_{name}")
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"DUCKMAIL_{name} must be a number, not {value!r}")


DEBUG = envbool("DEBUG", False)
SECRET_KEY = envstr("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DUCKMAIL_SECRET_KEY must be set when DUCKMAIL_DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-for-debug-mode"

ALLOWED_HOSTS = [h for h in envstr("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in envstr("CSRF_TRUSTED_ORIGINS").split(",") if o]

# The service: the domain members get their mailbox on, and the name shown to them.
SERVICE_NAME = envstr("SERVICE_NAME", "DuckMail")
SERVICE_DOMAIN = envstr("DOMAIN", "duckmail.test")
DEFAULT_QUOTA_MB = envint("DEFAULT_QUOTA_MB", 512)
MAX_MESSAGE_SIZE = envint("MAX_MESSAGE_SIZE", 20 * 1024 * 1024)
DEFAULT_MAX_ADDRESSES = envint("DEFAULT_MAX_ADDRESSES", 10)
QUOTA_WARNING_LEVELS = (80, 95)
RESERVED_LOCAL_PARTS = frozenset(
    """
    postmaster abuse root admin administrator hostmaster webmaster noreply no-reply
    mailer-daemon mailerdaemon nobody security support info daemon sysadmin www
    ssl-admin list-request majordomo operator help staff
    """.split()
) | frozenset(p for p in envstr("RESERVED_LOCAL_PARTS").split(",") if p)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "django_htmx",
    # Two-factor authentication: TOTP apps and single-use recovery codes. Listed before
    # accounts so that accounts/admin.py can unregister their admin pages (secrets).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "mailstack",
    "domains",
    "accounts",
    "webmail",
    "filters",
    "antispam",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "duckmail.middleware.ContentSecurityPolicyMiddleware",
    # Static files, answered here (after the two above, so they carry the same headers).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.websessions.WebMailAuthMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "duckmail.middleware.BackendUnavailableMiddleware",
]

ROOT_URLCONF = "duckmail.urls"
WSGI_APPLICATION = "duckmail.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "duckmail.context_processors.service",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": envstr("DB_NAME", "duckmail"),
        "USER": envstr("DB_USER", "postgres"),
        "PASSWORD": envstr("DB_PASSWORD"),
        "HOST": envstr("DB_HOST", "127.0.0.1"),
        "PORT": envstr("DB_PORT", "5432"),
        "CONN_MAX_AGE": envint("DB_CONN_MAX_AGE", 60),
        # Several test sessions (helpers, CI) may share one server: let each name its own.
        "TEST": {"NAME": envstr("TEST_DB_NAME", "test_duckmail")},
    }
}
# The role Dovecot and Postfix use to read the mail views (read-only in production).
MAIL_DB_USER = envstr("MAIL_DB_USER", DATABASES["default"]["USER"])
MAIL_DB_PASSWORD = envstr("MAIL_DB_PASSWORD", DATABASES["default"]["PASSWORD"])

AUTH_USER_MODEL = "accounts.Member"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.validators.CharacterVarietyValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "account"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = envstr("STATIC_ROOT", str(BASE_DIR / "var" / "static"))
# WhiteNoise serves static files from the web server itself. In production collectstatic
# writes hashed, compressed copies, cached by browsers for good; with DEBUG (development,
# tests) the plain storage, so nothing needs collectstatic first.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# With DEBUG, WhiteNoise serves static/ itself and sees edits at once (decided here, as the
# environment says, not by the DEBUG that pytest-django turns off during tests).
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = DEBUG
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cookies and transport security: strict unless DEBUG (loopback development has no TLS).
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 14 * 24 * 3600)
if SESSION_COOKIE_SECURE:
    # The __Host- prefix makes browsers refuse these cookies unless Secure, host-only and
    # Path=/, so a sibling subdomain can not plant or overwrite them.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
CSRF_COOKIE_SAMESITE = "Lax"
# The web's own logins to Dovecot (accounts/websessions.py): a per-session token whose
# secret only the member's browser holds, usable only from the web's own addresses.
WEB_MAIL_COOKIE_NAME = "__Host-mailtoken" if SESSION_COOKIE_SECURE else "mailtoken"
WEB_MAIL_NETS = envstr("WEB_MAIL_NETS", "127.0.0.0/8, ::1/128")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Sent with every answer (duckmail.middleware): nothing inline runs, nothing from elsewhere
# loads, nobody frames the site. `data:` images for the QR code's and the admin's icons.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
if envbool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 31536000

# Account security (accounts/twofactor.py, accounts/app_passwords.py, accounts/sudo.py, accounts/throttle.py).
OTP_TOTP_ISSUER = SERVICE_NAME
# django-otp's own per-device throttle answers "wrong code" even for a right code while
# it is active and says nothing about waiting; the Redis login throttle below replaces it
# with a clear "try again in N seconds", per account and per client address.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
RECOVERY_CODE_COUNT = 10
# How long the password step of a two-step login stays valid while the code is typed.
TWO_FACTOR_PENDING_SECONDS = envint("TWO_FACTOR_PENDING_SECONDS", 300)
# Sudo mode: sensitive changes ask for the password again after this long.
SUDO_MODE_SECONDS = envint("SUDO_MODE_SECONDS", 10 * 60)
# Failed web logins (password step, code step, sudo) are counted in Redis per account and
# per client address within a window; past the limit each failure locks for twice as long.
THROTTLE_REDIS_URL = envstr("THROTTLE_REDIS_URL", envstr("REDIS_URL", "redis://127.0.0.1:6379/0"))
THROTTLE_KEY_PREFIX = envstr("THROTTLE_KEY_PREFIX", "duckmail:throttle:")
THROTTLE_WINDOW_SECONDS = envint("THROTTLE_WINDOW_SECONDS", 15 * 60)
THROTTLE_ACCOUNT_FAILURES = envint("THROTTLE_ACCOUNT_FAILURES", 5)
THROTTLE_ADDRESS_FAILURES = envint("THROTTLE_ADDRESS_FAILURES", 20)
THROTTLE_LOCK_SECONDS = envint("THROTTLE_LOCK_SECONDS", 30)
THROTTLE_MAX_LOCK_SECONDS = envint("THROTTLE_MAX_LOCK_SECONDS", 15 * 60)
# Mail logins (accounts.authpolicy, Dovecot's auth_policy) from an address the account logged
# in from successfully within this many days count apart from strangers' (the owner stays in).
THROTTLE_KNOWN_ADDRESS_DAYS = envint("THROTTLE_KNOWN_ADDRESS_DAYS", 30)
# Dovecot asks the policy server (manage.py run_auth_policy, on 127.0.0.1) before checking
# any mail password; its API key comes from here or is derived from SECRET_KEY.
AUTH_POLICY_PORT = envint("AUTH_POLICY_PORT", 10030)
AUTH_POLICY_SECRET = envstr("AUTH_POLICY_SECRET")
# Behind a reverse proxy, the request header holding the client address (e.g.
# HTTP_X_REAL_IP); empty means REMOTE_ADDR. Only set it if the proxy overwrites it.
CLIENT_IP_HEADER = envstr("CLIENT_IP_HEADER")

# Redis and Celery. Beat keeps its schedule in the database (django-celery-beat).
REDIS_URL = envstr("REDIS_URL", "redis://127.0.0.1:6379/0")
# Django's cache: what the web processes share (the webmail's inline images between the
# reading view and its sandboxed frame, which may be answered by another process). Redis by
# default; "locmem://" keeps it per process (one web process with threads, or tests).
CACHE_URL = envstr("CACHE_URL", REDIS_URL)
CACHES = {"default": (
    {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"} if CACHE_URL == "locmem://" else
    {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL,
     "KEY_PREFIX": envstr("CACHE_KEY_PREFIX", "duckmail"), "TIMEOUT": 600})}
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_EAGER", False)
# Separate queues let several installations (or test runs) share one Redis.
CELERY_TASK_DEFAULT_QUEUE = envstr("CELERY_QUEUE", "duckmail")
CELERY_TASK_ACKS_LATE = True
# A child killed mid-task (OOM killer, SIGKILL at a deploy) puts its task back on the queue
# instead of acknowledging it as failed. Every task is safe to run twice (the outbox sends a
# row once, the quota refresh warns once per level).
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers and beat wait for Redis as long as an outage lasts (the default gives up after
# 100 tries); duckmail/celery.py keeps a lost connection from crashing the worker.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Publishing from the web gives up fast when Redis is down (the page goes on; see
# duckmail.queue.enqueue); workers still retry their own connection.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5, "max_retries": 1}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": {"timeout": 2.0}}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "purge-expired-mail-tokens": {
        "task": "accounts.tasks.purge_expired_mail_tokens",
        "schedule": 3600,
    },
    "refresh-quota-usage": {
        "task": "accounts.tasks.refresh_all_quota_usage",
        "schedule": envint("QUOTA_REFRESH_SECONDS", 15 * 60),
    },
    "sweep-outbox": {
        "task": "accounts.tasks.sweep_outbox",
        "schedule": 60,
    },
    # Junk expiry (antispam.expiry): at least daily, so a mail goes within hours of its age.
    "expire-junk": {
        "task": "antispam.tasks.expire_all_junk",
        "schedule": envint("JUNK_EXPIRY_SECONDS", 6 * 3600),
    },
    # SyncSPAM / SyncHAM (antispam.syncfolders): "every two hours", as the service page says.
    "train-sync-folders": {
        "task": "antispam.tasks.train_all_sync_folders",
        "schedule": 2 * 3600,
    },
}

# The mail stack. Ports are loopback defaults; each one is an environment variable.
MAIL_HOST = envstr("MAIL_HOST", "127.0.0.1")
IMAP_PORT = envint("IMAP_PORT", 10143)
POP3_PORT = envint("POP3_PORT", 10110)
MANAGESIEVE_PORT = envint("MANAGESIEVE_PORT", 14190)
LMTP_PORT = envint("LMTP_PORT", 10024)
DOVECOT_AUTH_PORT = envint("DOVECOT_AUTH_PORT", 10028)
SMTP_PORT = envint("SMTP_PORT", 10025)
SUBMISSION_PORT = envint("SUBMISSION_PORT", 10587)
# Postfix's loopback-only reinjection service: the one way Dovecot sends mail (Sieve
# redirects, vacation replies); port 25 no longer relays for loopback.
REINJECT_PORT = envint("REINJECT_PORT", 10027)
# The From: check (accounts/senders.py, `manage.py run_sender_check`): a milter that Postfix's
# submission and reinjection services ask at the end of each message; loopback only.
SENDER_CHECK_PORT = envint("SENDER_CHECK_PORT", 10031)
# What members put in their mail programs (shown on the account page): the public host
# name and ports, which differ from the loopback ports the web talks to.
PUBLIC_MAIL_HOST = envstr("PUBLIC_MAIL_HOST", MAIL_HOST if DEBUG else f"mail.{SERVICE_DOMAIN}")
PUBLIC_IMAP_PORT = envint("PUBLIC_IMAP_PORT", IMAP_PORT if DEBUG else 143)
PUBLIC_POP3_PORT = envint("PUBLIC_POP3_PORT", POP3_PORT if DEBUG else 110)
PUBLIC_SUBMISSION_PORT = envint("PUBLIC_SUBMISSION_PORT", SUBMISSION_PORT if DEBUG else 587)
PUBLIC_MANAGESIEVE_PORT = envint("PUBLIC_MANAGESIEVE_PORT", MANAGESIEVE_PORT if DEBUG else 4190)
PUBLIC_MAIL_SECURITY = envstr("PUBLIC_MAIL_SECURITY", "none (development)" if DEBUG else "STARTTLS")
# Sign-ups from one client address per hour (accounts.throttle.count_signup).
SIGNUP_PER_ADDRESS_PER_HOUR = envint("SIGNUP_PER_ADDRESS_PER_HOUR", 5)
SUPPORT_ADDRESS = envstr("SUPPORT_ADDRESS", f"postmaster@{SERVICE_DOMAIN}")
# Days the outbox (accounts.outbox) keeps mails after they were sent (or dropped), for the admin.
OUTBOX_KEEP_DAYS = envint("OUTBOX_KEEP_DAYS", 7)
# The learning filter (antispam/): scores are 0-100. At SPAM_THRESHOLD or above a message is
# spam; at DESTROY_THRESHOLD or above it is near-certain spam (destroyed at arrival). Until a
# member trained this many spam and ham messages, the site-wide prior fills in for their model.
ANTISPAM_SPAM_THRESHOLD = envfloat("ANTISPAM_SPAM_THRESHOLD", 50.0)
ANTISPAM_DESTROY_THRESHOLD = envfloat("ANTISPAM_DESTROY_THRESHOLD", 99.9)
ANTISPAM_MIN_TRAINED_SPAM = envint("ANTISPAM_MIN_TRAINED_SPAM", 20)
ANTISPAM_MIN_TRAINED_HAM = envint("ANTISPAM_MIN_TRAINED_HAM", 20)
# Passwords `manage.py bootstrap` gives the admin and demo accounts it creates (`make run`);
# empty: generated and printed once.
BOOTSTRAP_ADMIN_PASSWORD = envstr("ADMIN_PASSWORD")
BOOTSTRAP_DEMO_PASSWORD = envstr("DEMO_PASSWORD")
# Where `gen_mailconfig` writes, and where the running Dovecot's config lives (for doveadm).
MAILCONFIG_DIR = envstr("MAILCONFIG_DIR", str(BASE_DIR / "var" / "mail"))
MAIL_USER = envstr("MAIL_USER", "vmail")
# The production variant's TLS certificate and key (Debian's snakeoil pair by default),
# and the host name Dovecot and Postfix greet with (empty: mail.<domain>, or the FQDN in production).
TLS_CERT = envstr("TLS_CERT", "/etc/ssl/certs/ssl-cert-snakeoil.pem")
TLS_KEY = envstr("TLS_KEY", "/etc/ssl/private/ssl-cert-snakeoil.key")
MAIL_HOSTNAME = envstr("MAIL_HOSTNAME")
# The Dovecot master user that Celery workers (only they) use to reach mailboxes.
DOVECOT_MASTER_USER = envstr("DOVECOT_MASTER_USER", "duckmail-worker")
DOVECOT_MASTER_PASSWORD = envstr("DOVECOT_MASTER_PASSWORD")
# Where the Celery workers connect from (the master user is refused from anywhere else).
DOVECOT_MASTER_NETS = envstr("DOVECOT_MASTER_NETS", "127.0.0.0/8, ::1/128")
MAIL_TIMEOUT = envint("MAIL_TIMEOUT", 10)
# The webmail's SORT, THREAD and SEARCH of a whole folder: the first of a session on a big
# folder whose headers Dovecot has not cached yet reads every message (a 100,000-message
# folder: many seconds); later ones take a fraction of a second.
MAIL_SLOW_TIMEOUT = envint("MAIL_SLOW_TIMEOUT", 120)
# The web's kept IMAP connections, per web process: at most this many (each is also an imap
# process on Dovecot, ~2 MB there), logged out after this many idle seconds.
IMAP_POOL_SIZE = envint("IMAP_POOL_SIZE", 100)
IMAP_POOL_IDLE_SECONDS = envint("IMAP_POOL_IDLE_SECONDS", 300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
}
