"""Django settings, all parsed from ``ECABINET_*`` variables (see ``ecabinet.config``).

Two modes: ``embedded`` (the default; SQLite under ``var/``, in-memory channel layer, background
work inside ``ecabinet serve``, e-mail to ``var/outbox/``) and ``production`` (PostgreSQL, Redis,
real secrets, all checked here so a bad value stops start-up with a clear message).
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from ecabinet.config import ConfigError, Env, check_secret

env = Env()
BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent


def _embedded_secret_key() -> str:
    # The embedded default keeps its own random key on disk so sessions survive a restart.
    path = KEY_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    KEY_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


# Everything read from the environment is inside this block, so any bad value ends start-up with
# one line naming the variable instead of a traceback.
try:
    MODE = env.choice("MODE", "embedded", ("embedded", "production"))
    PRODUCTION = MODE == "production"
    TESTING = "pytest" in sys.modules or env.bool("TESTING", False)
    TEST_REAL_BROKER = env.bool("TEST_REAL_BROKER", False)
    DEBUG = env.bool("DEBUG", False)

    VAR_DIR = env.path("VAR_DIR", PROJECT_DIR / "var")
    KEY_DIR = env.path("KEY_DIR", VAR_DIR / "keys")

    SECRET_KEY = check_secret("SECRET_KEY", env.str("SECRET_KEY")) if PRODUCTION else (env.str("SECRET_KEY") or _embedded_secret_key())

    DATABASE_URL = env.url("DATABASE_URL", ("postgres", "postgresql", "sqlite"))
    REDIS_URL = env.url("REDIS_URL", ("redis", "rediss", "unix"))
    SMTP_URL = env.url("SMTP_URL", ("smtp", "smtps", "smtp+starttls"))
    if PRODUCTION:
        if not DATABASE_URL or DATABASE_URL.startswith("sqlite"):
            raise ConfigError("ECABINET_DATABASE_URL must point at PostgreSQL in production")
        if not REDIS_URL:
            raise ConfigError("ECABINET_REDIS_URL must be set in production (live events, tasks, throttling)")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"])
    if PRODUCTION and not ALLOWED_HOSTS:
        raise ConfigError("ECABINET_ALLOWED_HOSTS must list the host names the service answers to")
    CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])
    MAX_BODY_BYTES = env.int("MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
    SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_MINUTES", 30, minimum=1) * 60
    SESSION_MAX_SECONDS = env.int("SESSION_MAX_HOURS", 12, minimum=1) * 3600
    API_TOKEN_DAYS = env.int("API_TOKEN_DAYS", 30, minimum=1)
    TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", 0, minimum=0)
    AUDIT_ORIGIN = env.str("AUDIT_ORIGIN", "ecabinet.local/audit") or "ecabinet.local/audit"
    AUDIT_CHECKPOINT_SECONDS = env.int("AUDIT_CHECKPOINT_SECONDS", 300, minimum=5)
    SERVE_HOST = env.str("HOST", "127.0.0.1") or "127.0.0.1"
    SERVE_PORT = env.int("PORT", 8000, minimum=1, maximum=65535)
    SERVE_WORKERS = env.int("SERVE_WORKERS", 1, minimum=1, maximum=64)
    # Off by default in the test process: pytest-django drops the test database at the end, which a
    # pool's idle connections would hold open. The servers the tests start use it.
    DB_POOL_SIZE = env.int("DB_POOL_SIZE", 0 if TESTING else 16, minimum=0, maximum=1000)
    # Live poll turnout: at most one push per poll per this many ms per process (0: after every ballot).
    VOTE_PUSH_SECONDS = env.int("VOTE_PUSH_MS", 0 if TESTING else 250, minimum=0, maximum=10_000) / 1000
    # Check every member's certificate in the background when a server process starts (or its CRLs
    # change), so the first vote does not pay each certificate's CA signature check. Off in tests,
    # which check it directly.
    VOTE_WARM_CERTIFICATES = env.bool("VOTE_WARM_CERTIFICATES", not TESTING)
    LOGIN_DELAY_AFTER = env.int("LOGIN_DELAY_AFTER", 3, minimum=1)
    LOGIN_LOCKOUT_AFTER = env.int("LOGIN_LOCKOUT_AFTER", 10, minimum=2)
    # PKI (ecabinet.pki): CA keys are encrypted under this passphrase; embedded mode may keep a
    # generated one in KEY_DIR/pki/ca-passphrase instead. PUBLIC_URL goes into issued certificates.
    PKI_CA_PASSPHRASE = env.str("CA_PASSPHRASE")
    if PRODUCTION and PKI_CA_PASSPHRASE is not None:
        check_secret("CA_PASSPHRASE", PKI_CA_PASSPHRASE, min_length=16)
    PKI_PUBLIC_URL = (env.str("PKI_PUBLIC_URL") or f"http://{SERVE_HOST}:{SERVE_PORT}").rstrip("/")
    PKI_CERT_DAYS = env.int("PKI_CERT_DAYS", 730, minimum=1)
    PKI_CRL_DAYS = env.int("PKI_CRL_DAYS", 7, minimum=1)
    # Documents and Level 1 scanning (ecabinet.documents, ecabinet.security).
    MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", 200 * 1024 * 1024, minimum=1024)
    CLAMD_URL = env.url("CLAMD_URL", ("tcp", "unix"))
    CLAMD_TIMEOUT = env.int("CLAMD_TIMEOUT", 60, minimum=1)
    YARA_DIR = env.path("YARA_DIR", VAR_DIR / "yara")
    ARCHIVE_MAX_ENTRIES = env.int("ARCHIVE_MAX_ENTRIES", 10_000, minimum=1)
    ARCHIVE_MAX_RATIO = env.int("ARCHIVE_MAX_RATIO", 100, minimum=2)
    ARCHIVE_MAX_DEPTH = env.int("ARCHIVE_MAX_DEPTH", 3, minimum=0)
    ARCHIVE_MAX_TOTAL_BYTES = env.int("ARCHIVE_MAX_TOTAL_BYTES", 1024 * 1024 * 1024, minimum=1024)
    # OCR of scanned pages (Tesseract); languages missing from the machine are skipped.
    OCR_LANGUAGES = env.str("OCR_LANGUAGES", "vie+eng+fra") or "vie+eng+fra"
    OCR_TIMEOUT = env.int("OCR_TIMEOUT", 120, minimum=5)
    # A range read authenticates the records it serves; the whole-file SHA-256 is re-checked on
    # every full read and at least this often for ranges (a reader fetches many small ranges).
    INTEGRITY_RECHECK_SECONDS = env.int("INTEGRITY_RECHECK_SECONDS", 300, minimum=0)
    MASTER_KEY_FILE = env.path("MASTER_KEY_FILE", KEY_DIR / "master.key")
    MASTER_KEY = env.str("MASTER_KEY")
    KEYRING_DIR = env.path("KEYRING_DIR", KEY_DIR / "keyring")
    if PRODUCTION and not MASTER_KEY and not (env.str("MASTER_KEY_FILE") and MASTER_KEY_FILE.is_file()):
        raise ConfigError(
            "ECABINET_MASTER_KEY_FILE (a file holding 32 random bytes in base64, mode 0600) or ECABINET_MASTER_KEY must be set in production; "
            "documents are encrypted under it. Make one with: python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())'"
        )
    S3_BUCKET = env.str("S3_BUCKET")
    S3_ENDPOINT_URL = env.str("S3_ENDPOINT_URL")
    S3_REGION = env.str("S3_REGION")
    S3_ACCESS_KEY_ID = env.str("S3_ACCESS_KEY_ID")
    S3_SECRET_ACCESS_KEY = env.str("S3_SECRET_ACCESS_KEY")
    S3_PREFIX = env.str("S3_PREFIX", "") or ""
    BROKER_URL = env.url("BROKER_URL", ("redis", "rediss", "amqp", "amqps", "pyamqp", "filesystem"))
except ConfigError as exc:  # pragma: no cover - exercised by test_settings via a subprocess
    raise SystemExit(f"e-Cabinet configuration error: {exc}") from None

INSTALLED_APPS = [
    "ecabinet.web.apps.ECabinetAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "ecabinet.web",
    "ecabinet.identity",
    "ecabinet.audit",
    "ecabinet.pki",
    "ecabinet.meetings",
    "ecabinet.voting",
    "ecabinet.security",
    "ecabinet.documents",
    "ecabinet.notify",
]

MIDDLEWARE = [
    "ecabinet.web.middleware.MetricsMiddleware",
    "ecabinet.web.middleware.BodyLimitMiddleware",
    "ecabinet.web.middleware.ApiProblemMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "ecabinet.identity.middleware.SessionPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "ecabinet.urls"
ASGI_APPLICATION = "ecabinet.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

if DATABASE_URL and not DATABASE_URL.startswith("sqlite"):
    # conn_max_age=0: under ASGI every request runs its sync code in a thread of its own, so a
    # persistent connection per thread is never reused and piles up until PostgreSQL refuses more
    # clients (seen in bench/vote_burst.py). Instead each process keeps a pool (psycopg_pool,
    # Django's "pool" option): a request borrows a connection and gives it back when it ends. A
    # new PostgreSQL connection costs a backend process start, tens of milliseconds on a busy host,
    # a large part of a ballot's cost. ECABINET_DB_POOL_SIZE=0 turns the pool off (PgBouncer in
    # front instead).
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0, conn_health_checks=DB_POOL_SIZE == 0)}
    if DB_POOL_SIZE:
        # A request waits up to `timeout` seconds for a free connection rather than failing at once.
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": DB_POOL_SIZE, "timeout": 30}
        # The pool's connections are this process's own, so a statement the plain-SQL cursors
        # (ecabinet.rawsql) run a fifth time on one is prepared there: PostgreSQL then neither
        # parses nor plans it again, which was most of its CPU per ballot. Django turns this off
        # (None) for the sake of transaction-pooling proxies; with one (pool size 0) it stays off.
        # Django's own cursors bind client-side and never prepare, whatever this says.
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5
else:
    sqlite_path = DATABASE_URL[len("sqlite:///") :] if DATABASE_URL else str(VAR_DIR / "ecabinet.sqlite3")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": sqlite_path,
            "OPTIONS": {
                # WAL lets readers go on while one writer writes; IMMEDIATE takes the write lock at
                # the start of each transaction so two writers queue instead of failing mid-way.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "identity.User"
AUTHENTICATION_BACKENDS = ["ecabinet.identity.backends.ThrottledModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = SESSION_MAX_SECONDS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 31536000
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES

LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", _("Tiếng Việt")), ("en", _("English")), ("fr", _("Français"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_MIMETYPES = {".webmanifest": "application/manifest+json", ".mjs": "text/javascript"}
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": VAR_DIR / "files"}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if S3_BUCKET:
    # Any S3-compatible bucket (AWS, MinIO, Ceph...): the blobs are already encrypted, the bucket
    # only keeps them. Never public, never overwritten in place.
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": S3_ENDPOINT_URL,
            "region_name": S3_REGION,
            "access_key": S3_ACCESS_KEY_ID,
            "secret_key": S3_SECRET_ACCESS_KEY,
            "location": S3_PREFIX,
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
# Uploads larger than this wait in a temporary file until the pipeline encrypts them.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = VAR_DIR / "tmp"
FILE_UPLOAD_TEMP_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)

if REDIS_URL:
    # channels_redis counts its capacity per server process (all of a process's WebSockets share
    # one Redis list), so the default 100 dropped most of an event sent to 1,000 tablets at once.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL], "capacity": 10_000}}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "ecabinet.web.channel_layer.EmbeddedChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Background work: Celery on the broker in production; in the embedded default `ecabinet serve`
# starts a worker process on a broker kept in files under var/, and tests run tasks eagerly.
CELERY_BROKER_URL = BROKER_URL or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # Broadcast (remote control) messages too; kombu's default is ./control in the working directory.
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = TESTING and not TEST_REAL_BROKER
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Task modules not named tasks.py, which autodiscovery would miss.
CELERY_IMPORTS = ["ecabinet.meetings.followup_tasks"]
CELERY_BEAT_SCHEDULE = {
    "audit-checkpoint": {"task": "ecabinet.audit.tasks.make_checkpoint", "schedule": float(AUDIT_CHECKPOINT_SECONDS)},
    "documents-retry-held": {"task": "ecabinet.documents.tasks.retry_held", "schedule": 300.0},
    "meetings-overdue-tasks": {"task": "ecabinet.meetings.followup_tasks.list_overdue_tasks", "schedule": 24 * 3600.0},
    "voting-close-due-polls": {"task": "ecabinet.voting.tasks.close_due_polls", "schedule": 60.0},
}

if SMTP_URL:
    EMAIL_BACKEND = "ecabinet.web.mail.SmtpUrlBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "outbox"
DEFAULT_FROM_EMAIL = env.str("FROM_EMAIL", "e-cabinet@localhost")

# Notifications (ecabinet.notify): links in e-mails and pushes point at SITE_URL; SMS goes to an
# HTTP gateway when ECABINET_SMS_URL is set (body from ECABINET_SMS_TEMPLATE), else to the log.
try:
    SITE_URL = (env.str("SITE_URL") or PKI_PUBLIC_URL).rstrip("/")
    SMS_URL = env.url("SMS_URL", ("http", "https"))
    SMS_TEMPLATE = env.str("SMS_TEMPLATE", '{"to": "{to}", "text": "{text}"}') or '{"to": "{to}", "text": "{text}"}'
    NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", 5, minimum=1)
    NOTIFY_NUDGE_HOURS = env.int("NOTIFY_NUDGE_HOURS", 12, minimum=0)
    # A delivery "sending" for longer than this was left by a worker that stopped; it is requeued.
    NOTIFY_STALE_MINUTES = env.int("NOTIFY_STALE_MINUTES", 15, minimum=1)
except ConfigError as exc:  # pragma: no cover
    raise SystemExit(f"e-Cabinet configuration error: {exc}") from None
CELERY_BEAT_SCHEDULE.update(
    {
        "notify-reminders": {"task": "ecabinet.notify.tasks.run_reminders", "schedule": 300.0},
        "notify-digests": {"task": "ecabinet.notify.tasks.send_digests", "schedule": 24 * 3600.0},
        "notify-purge-messages": {"task": "ecabinet.notify.tasks.purge_messages", "schedule": 24 * 3600.0},
        "notify-requeue-stale": {"task": "ecabinet.notify.tasks.requeue_stale", "schedule": 300.0},
    }
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO" if not TESTING else "WARNING"},
    "loggers": {"django.request": {"level": "ERROR"}},
}

NINJA_PAGINATION_PER_PAGE = 50
