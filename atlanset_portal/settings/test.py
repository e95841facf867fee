"""Test settings: the base settings with tasks run in-process and a fast password hasher."""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405

# Uploaded files from tests go to a throwaway folder, never into the project's var/.
MEDIA_ROOT = tempfile.mkdtemp(prefix="atlanset-test-media-")

# Most tests open deals for hunters who never took the onboarding; the gate's own tests switch it on.
ONBOARDING_REQUIRED_FOR_DEALS = False

# Every change recalculates its month at once in tests; the debouncing test sets its own window.
PLAN_PROGRESS_DEBOUNCE_SECONDS = 0

# The test database lives in a file, not in memory, so a real Celery worker started by a test
# (tests/portal/test_worker_jobs.py) reads and writes the same database as the test.
_database = DATABASES["default"]  # noqa: F405
if _database["ENGINE"] == "django.db.backends.sqlite3":
    _database["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"atlanset-test-{os.getpid()}.sqlite3")}

# The test client's login() authenticates without a request, which django-axes refuses; the
# throttling tests switch it back on (tests/portal/test_security.py).
AXES_ENABLED = False

# Most tests sign the head, the accountant and the superuser in directly; the two-factor tests turn the
# rule on.
OTP_REQUIRED_ROLES = []
OTP_REQUIRED_FOR_STAFF = False

# Tests serve static files straight from the apps, whatever DEBUG or STATIC_COLLECTED say.
STATIC_COLLECTED = False
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = True
