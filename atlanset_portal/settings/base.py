"""Settings of the portal, read from the environment with safe local defaults.

With no variables set the portal runs on a SQLite file and an embedded message broker (files under
``var/``), so a fresh clone needs no servers. Production sets ``DEBUG=0``, ``SECRET_KEY``,
``ALLOWED_HOSTS``, ``DATABASE_URL`` and ``REDIS_URL``.
"""

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _
from whitenoise.compress import Compressor

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

_INSECURE_DEV_KEY = "django-insecure-local-development-only"
SECRET_KEY = env.str("SECRET_KEY", default=_INSECURE_DEV_KEY if DEBUG else "")
if not DEBUG and (not SECRET_KEY or SECRET_KEY == _INSECURE_DEV_KEY):
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=0")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "atlanset_portal.apps.PortalStaticFilesConfig",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_filters",
    "django_htmx",
    "bootstrap",
    "accounts",
    "imports",
    "onboarding",
    "deals",
    "kpi",
    "compensation",
    "notifications",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "simple_history",
]

MIDDLEWARE = [
    # First: every log line of the request, and the tasks it queues, carry its id (atlanset_portal/logs.py).
    "atlanset_portal.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # A statement cancelled by its lock or statement timeout costs one request a Russian 503 page.
    "atlanset_portal.middleware.DatabaseBusyMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "atlanset_portal.middleware.SessionRenewalMiddleware",
    "atlanset_portal.middleware.PortalLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before the CSRF check, which reads the form: a body larger than its page accepts is refused unread.
    "atlanset_portal.middleware.RequestBodyLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "accounts.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Who made a change, for the audit history of deals, payments, plans, pay schemes and statements.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Sign-in throttling (django-axes): five wrong passwords for a login from one address lock that pair
# out for a quarter of an hour; a successful sign-in resets the count.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_FORM_FIELD = "username"
# The count is kept per client address: behind AXES_PROXY_COUNT reverse proxies that is the entry the
# nearest ones appended to X-Forwarded-For, never one the client wrote itself (atlanset_portal/client_ip.py).
TRUSTED_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "atlanset_portal.client_ip.client_ip"
AXES_VERBOSE = False

# Two-factor sign-in (TOTP, django-otp): these roles, and every superuser and staff user whatever their
# role, confirm a code from an authenticator app after the password; the first sign-in sets the app up
# (accounts/two_factor.py).
OTP_REQUIRED_ROLES = env.list("OTP_REQUIRED_ROLES", default=["sales_head", "accountant"])
OTP_REQUIRED_FOR_STAFF = True
OTP_TOTP_ISSUER = "Атлансет"
# django-otp's own admin pages never show a device's key or QR code (the portal replaces them anyway).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Content-Security-Policy (Django's own middleware): every script, style, font and image comes from
# the portal itself; no inline script, no framing. Bootstrap's CSS draws its icons from data: URIs.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

ROOT_URLCONF = "atlanset_portal.urls"
CSRF_FAILURE_VIEW = "atlanset_portal.views.csrf_failure"
WSGI_APPLICATION = "atlanset_portal.wsgi.application"
ASGI_APPLICATION = "atlanset_portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.navigation",
                "notifications.context_processors.bell",
            ],
            "libraries": {"filter_bar": "atlanset_portal.templatetags.filter_bar"},
            "builtins": [
                "atlanset_portal.templatetags.formatting",
                "atlanset_portal.templatetags.icons",
                "atlanset_portal.templatetags.links",
                "atlanset_portal.templatetags.wording",
            ],
        },
    },
]

# Database: DATABASE_URL, e.g. postgres://user:password@host:5432/name; SQLite file by default.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60 if not DEBUG else 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# On PostgreSQL every statement of every connection is bounded: one that runs longer than
# DB_STATEMENT_TIMEOUT_MS, or waits longer than DB_LOCK_TIMEOUT_MS for a lock another session holds, is
# cancelled (the page answers 503 in Russian, a task retries) instead of holding a web worker until
# gunicorn kills it and piling every later request up behind the same lock. 0 turns a limit off
# (compose's migrate does that). Both stay below gunicorn's timeout (60 s) and the tasks' time limits.
DB_STATEMENT_TIMEOUT_MS = env.int("DB_STATEMENT_TIMEOUT_MS", default=30_000)
DB_LOCK_TIMEOUT_MS = env.int("DB_LOCK_TIMEOUT_MS", default=10_000)
DB_JIT = env.bool("DB_JIT", default=False)
# The planner's price of a random page read against a sequential one. PostgreSQL's default (4) assumes
# spinning disks; on SSD, with the working set in memory, it made the planner scan all 20 000 clients or
# 43 000 orders to join a hunter's few hundred deals (the board: 27 ms instead of 7). 1.1 is the usual
# value for SSD storage; DB_RANDOM_PAGE_COST= (empty) keeps the server's own.
DB_RANDOM_PAGE_COST = env.str("DB_RANDOM_PAGE_COST", default="1.1")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    # A database that does not answer fails a request (and /health/) in seconds, not minutes; a
    # ?connect_timeout= in DATABASE_URL wins.
    _options.setdefault("connect_timeout", 5)
    _options["options"] = " ".join(
        filter(
            None,
            [
                _options.get("options", ""),
                f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS}",
                f"-c lock_timeout={DB_LOCK_TIMEOUT_MS}",
                # JIT compiles a query the planner guesses is expensive: 40-50 ms of compiling for a page
                # query that runs in a few (the payments page's receivables). DB_JIT=1 turns it back on.
                "" if DB_JIT else "-c jit=off",
                f"-c random_page_cost={DB_RANDOM_PAGE_COST}" if DB_RANDOM_PAGE_COST else "",
            ],
        )
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; the busy timeout waits out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Language, time and money: Russian first, Surgut's clock.
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Русский")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Yekaterinburg"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Static files are collected (`collectstatic`) and compressed ahead (whitenoise: Brotli, the `brotli`
# package, and gzip; each browser gets what it asks for) in production, where they also have hashed
# names kept for a year by browsers, and under `make run` (scripts/run-portal sets STATIC_COLLECTED=1
# for collectstatic and the server; with DEBUG the names stay plain); otherwise (tests, a bare
# runserver) whitenoise serves them straight from the apps, and an edit shows at once.
STATIC_COLLECTED = env.bool("STATIC_COLLECTED", default=not DEBUG)
WHITENOISE_USE_FINDERS = not STATIC_COLLECTED
WHITENOISE_AUTOREFRESH = not STATIC_COLLECTED
# Source maps (13 MB of Bootstrap's) are read by developer tools only: not worth compressing at each collect.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]
STORAGES = {
    # Uploads are written under a temporary name and moved into place whole (atlanset_portal/storage.py).
    "default": {"BACKEND": "atlanset_portal.storage.AtomicFileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_COLLECTED
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Uploaded files (proposals, invoices, receipts) live outside any public URL; views serve them.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
# Request bodies: a page that takes a file accepts its largest file and the form around it
# (atlanset_portal/uploads.py), every other request at most REQUEST_BODY_MAX_BYTES; a larger one is
# answered 413 from its Content-Length before the body is read (RequestBodyLimitMiddleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("REQUEST_BODY_MAX_BYTES", default=1024 * 1024)
# An uploaded file larger than this is spooled to a temporary file rather than held in a worker's memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# Backups (atlanset_portal/backups.py): `manage.py backup` writes a pg_dump archive and a tar of MEDIA_ROOT
# here and deletes those older than BACKUP_KEEP_DAYS (the newest is always kept); pg_dump and pg_restore
# are taken from POSTGRES_BIN_DIR when it is set, else from PATH.
BACKUP_DIR = env.path("BACKUP_DIR", default=str(VAR_DIR / "backups"))
BACKUP_KEEP_DAYS = env.int("BACKUP_KEEP_DAYS", default=14)
POSTGRES_BIN_DIR = env.str("POSTGRES_BIN_DIR", default="")

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

MESSAGE_TAGS = {40: "danger"}

# Email: printed to the console by default; SMTP when EMAIL_URL is set
# (smtp+tls://user:password@host:587 or smtps://user:password@host:465).
_email = env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25")
if _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend"):
    MAILERS = {
        "default": {
            "BACKEND": _email["EMAIL_BACKEND"],
            "OPTIONS": {
                "host": _email["EMAIL_HOST"],
                "port": _email["EMAIL_PORT"],
                "username": _email.get("EMAIL_HOST_USER", ""),
                "password": _email.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": bool(_email.get("EMAIL_USE_TLS")),
                "use_ssl": bool(_email.get("EMAIL_USE_SSL")),
                "timeout": 20,
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": _email["EMAIL_BACKEND"]}}
# Emails go out through an outbox (notifications/services.py): a digest claimed by a sender that then
# stopped before recording the result is sent again only after this many minutes (longer than any
# sending task may run), and the log says so.
EMAIL_SENDING_TIMEOUT_MINUTES = env.int("EMAIL_SENDING_TIMEOUT_MINUTES", default=30)
# Links in emails point here.
PORTAL_URL = env.str("PORTAL_URL", default="http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Атлансет <portal@atlanset.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Sessions: a working day, renewed on activity, so an idle browser in the field signs out. Renewed at most
# once a minute (atlanset_portal.middleware.SessionRenewalMiddleware), not written on every request.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 60 * 60)
SESSION_RENEW_SECONDS = 60

# Production hardening: everything behind HTTPS.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # The health check is asked over plain HTTP from inside the web container (scripts/healthcheck).
    SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Celery: Redis when REDIS_URL is set; otherwise kombu's filesystem transport under var/celery,
# so the worker and its embedded beat run with no server at all.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_DATA_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest task (LONG_TASK_TIME_LIMIT) and any countdown, so an unacknowledged task
        # is not redelivered while still running or waiting.
        "visibility_timeout": 60 * 60,
        # A Redis that does not answer (stopped, or frozen and accepting connections it never serves) is
        # an error in seconds: a page queueing work then does it inline (atlanset_portal/background.py)
        # instead of hanging. Above kombu's 1 s BRPOP, so an idle worker's poll never times out.
        "socket_connect_timeout": 2,
        "socket_timeout": 2,
    }
else:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
    CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=f"file://{CELERY_DATA_DIR / 'results'}")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_DATA_DIR / "queue"),
        "data_folder_out": str(CELERY_DATA_DIR / "queue"),
        "processed_folder": str(CELERY_DATA_DIR / "processed"),
        # Where kombu keeps its exchange bindings; by default a "control" folder wherever it was started.
        "control_folder": str(CELERY_DATA_DIR / "control"),
        "store_processed": False,
    }
CELERY_TIMEZONE = TIME_ZONE
# A page that queues work must not hang on a dead broker: give up fast and do the work inline
# (atlanset_portal/background.py).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# One retry: enough for a pooled connection that died with a Redis restart, and a frozen Redis costs a
# page two socket timeouts, not three.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Nobody reads a portal task's return value. Without this every publish also subscribed to the result
# store first, with no timeout, so a frozen Redis hung the page; a caller that wants a result (ping, the
# tests' worker checks) asks for it with ignore_result=False.
CELERY_TASK_IGNORE_RESULT = True
# Every task has a time limit: at the soft one it gets SoftTimeLimitExceeded (its transaction rolls back),
# at the hard one its process is killed. Imports and the morning reminder run get the long limits
# (atlanset_portal.background.TaskTimeLimits, LONG_TASKS). All of them are below the visibility timeout.
TASK_SOFT_TIME_LIMIT = env.int("TASK_SOFT_TIME_LIMIT", default=5 * 60)
LONG_TASK_SOFT_TIME_LIMIT = env.int("LONG_TASK_SOFT_TIME_LIMIT", default=30 * 60)
TASK_TIME_LIMIT_GRACE = 60  # seconds between the soft and the hard limit, for the task to clean up
LONG_TASKS = ["notifications.tasks.send_daily_reminders", "*import*"]  # task names, fnmatch patterns
CELERY_TASK_SOFT_TIME_LIMIT = TASK_SOFT_TIME_LIMIT
CELERY_TASK_TIME_LIMIT = TASK_SOFT_TIME_LIMIT + TASK_TIME_LIMIT_GRACE
CELERY_TASK_ANNOTATIONS = ["atlanset_portal.background.TaskTimeLimits"]
# The worker survives a broker restart and puts the countdown tasks it held back in their queue at once
# (atlanset_portal/worker.py).
CELERY_WORKER_CONSUMER = "atlanset_portal.worker:PortalConsumer"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(CELERY_DATA_DIR / "beat-schedule")
CELERY_BEAT_SCHEDULE = {
    "clear-expired-sessions": {
        "task": "accounts.tasks.clear_expired_sessions",
        "schedule": crontab(hour=3, minute=0),
    },
    # A safety net under the event-driven recalculations: every hunter-month marked as behind its data
    # (kpi.DirtyMonth, marked in the changing transaction), whatever the month, every 15 minutes.
    "recalculate-plan-progress": {
        "task": "kpi.tasks.recalculate_plan_progress",
        "schedule": crontab(minute="*/15"),
    },
    # Reminders at 09:00 Yekaterinburg time (CELERY_TIMEZONE), asked again every quarter of an hour until
    # 18:45: a day whose run finished is not run again, one that failed (the database down longer than the
    # retries) is, and a later run first makes the reminders of working days that were missed.
    "send-daily-reminders": {
        "task": "notifications.tasks.send_daily_reminders",
        "schedule": crontab(hour="9-18", minute="*/15"),
    },
    # Approved statements something changed under are checked within minutes of the change; this catches
    # any check whose task was lost.
    "check-marked-statements": {
        "task": "compensation.tasks.check_marked_statements",
        "schedule": crontab(minute="*/10"),
    },
    # The email digest of the events told since the last one (notifications.events), and emails that
    # could not go out at once (SMTP down) retried.
    "send-pending-notification-emails": {
        "task": "notifications.tasks.send_notification_emails",
        "schedule": crontab(minute="*/10"),
    },
    # Statements sent to hunters by e-mail (compensation/mailing.py) that could not go out at once.
    "send-pending-statement-emails": {
        "task": "compensation.tasks.send_statement_emails",
        "schedule": crontab(minute="*/10"),
    },
}

# Plan progress is recalculated at most once per this many seconds per month, however many changes
# arrive (kpi/progress.py).
PLAN_PROGRESS_DEBOUNCE_SECONDS = env.int("PLAN_PROGRESS_DEBOUNCE_SECONDS", default=20)

# Shared between web processes and workers in production (debouncing, sign-in throttling).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # Its own database, so clearing the cache never touches the broker's queues.
            "LOCATION": env.str("CACHE_URL", default=REDIS_URL.rsplit("/", 1)[0] + "/1"),
            # A Redis that does not answer is an error within a second, not a hung request; every use of
            # the cache is ready for that error (atlanset_portal/outage.py).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }

# Logs go to standard output/error: plain lines locally, one JSON object per line in production (DEBUG=0),
# each with the id of the request or task that wrote it (atlanset_portal/logs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured("LOG_FORMAT is plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "atlanset_portal.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "atlanset_portal.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
# With JSON logs the worker and beat keep the portal's logging instead of installing Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"

# Error tracking: with SENTRY_DSN set, unhandled errors of pages and tasks and every ERROR log line go to
# Sentry (or a compatible service such as GlitchTip), tagged with the request id; without it nothing is sent.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production" if not DEBUG else "development"),
        # Who did it is in the portal's own audit history; the events carry no user data or request bodies.
        send_default_pii=False,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# KPI: a telephony call counts when it is outgoing and lasts at least this long (SPEC §4: connected).
KPI_MIN_CALL_SECONDS = env.int("KPI_MIN_CALL_SECONDS", default=1)
# The head's revenue forecast: stage-to-payment rates from the deals finished in the last this many months;
# a stage with fewer finished deals than the minimum takes the department's overall rate (and says so).
FORECAST_WINDOW_MONTHS = env.int("FORECAST_WINDOW_MONTHS", default=12)
FORECAST_MIN_SAMPLE = env.int("FORECAST_MIN_SAMPLE", default=10)
# The PBX posts call records to /kpi/telephony/cdr/ with this token in the X-Portal-Token header (never in
# the address, which lands in access logs: ?token= is refused).
TELEPHONY_WEBHOOK_TOKEN = env.str("TELEPHONY_WEBHOOK_TOKEN", default="")

# Lead lists: how many times an hour a person may check a list against the client base (each check is in
# the head's audit history), and the most data rows a list may have.
LEAD_IMPORT_UPLOADS_PER_HOUR = env.int("LEAD_IMPORT_UPLOADS_PER_HOUR", default=10)
LEAD_IMPORT_MAX_ROWS = env.int("LEAD_IMPORT_MAX_ROWS", default=20_000)

# A hand-entered activity may be dated today or up to this many working days back (never into a month
# whose statement is approved or locked).
ACTIVITY_BACKDATE_WORKING_DAYS = env.int("ACTIVITY_BACKDATE_WORKING_DAYS", default=2)

# Reminders: an open deal with no stage change or activity for longer than its stage's limit (days)
# is reported idle. The limits live with the stages (deals/stages.py); this overrides some of them,
# e.g. STAGE_IDLE_DAYS='{"payment": 21}'.
STAGE_IDLE_DAYS = env.json("STAGE_IDLE_DAYS", default={})

# Onboarding: the test's pass mark, and whether a hunter must finish onboarding before opening deals.
ONBOARDING_PASS_MARK = env.int("ONBOARDING_PASS_MARK", default=80)
ONBOARDING_REQUIRED_FOR_DEALS = env.bool("ONBOARDING_REQUIRED_FOR_DEALS", default=True)
# Each attempt asks this many questions drawn from the active bank (all of them if the bank is smaller);
# the head's question page warns while the bank holds fewer than ONBOARDING_QUESTION_BANK_MIN, since a
# small bank repeats itself. After a failed attempt the next one waits ONBOARDING_RETRY_WAIT_MINUTES.
ONBOARDING_TEST_QUESTIONS = env.int("ONBOARDING_TEST_QUESTIONS", default=12)
ONBOARDING_QUESTION_BANK_MIN = env.int("ONBOARDING_QUESTION_BANK_MIN", default=30)
ONBOARDING_RETRY_WAIT_MINUTES = env.int("ONBOARDING_RETRY_WAIT_MINUTES", default=10)
# Who hunters call or write at production about samples and orders (shown on the samples pages).
PRODUCTION_CONTACT = env.str("PRODUCTION_CONTACT", default="")

# An order line priced further from the list price than this share (0.3: 30 % either way) goes to
# production only after the hunter confirms the difference the order page shows.
PRICE_DEVIATION_CONFIRM_SHARE = Decimal(env.str("PRICE_DEVIATION_CONFIRM_SHARE", default="0.3"))
