"""Django settings of the portal, from the environment; the embedded defaults are ``run/``,
where ``make run`` keeps routecore's stores (B15).

- ``ROUTECORE_STORE``, ``ROUTECORE_CALLS``, ``ROUTECORE_IMAGE``, ``ROUTECORE_STATE``: routecore's
  flow store, call store, routing image and shared state, as the ``routecore`` command takes them;
- ``ROUTECORE_RECORDINGS``, ``ROUTECORE_PROMPTS``: the folders the adapters write recordings and
  voicemail to and read prompts from;
- ``ROUTECORE_PORTAL_UPLOADS``: uploaded prompts waiting for review;
- ``ROUTECORE_PBX``, ``ROUTECORE_SEAT_DIAL``, ``ROUTECORE_CALLBACK_CONTEXT``: click to call
  (``routecore_portal.pbx``);
- ``ROUTECORE_SMS_HOOK_TOKEN``: the secret of ``/hooks/sms-up/<token>`` (Alibaba's replies);
- ``ROUTECORE_PORTAL_DB``: the portal's own database (users, enterprises, audit log);
- ``ROUTECORE_PORTAL_SECRET``: the signing key; else ``routecore-portal serve`` makes one
  once, beside the database (mode 0600), so sessions survive a restart;
- ``ROUTECORE_PORTAL_HOSTS`` (comma-separated host names), ``ROUTECORE_PORTAL_HTTPS=1`` (secure
  cookies behind TLS), ``ROUTECORE_PORTAL_DEBUG=1`` (development only).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from csp.constants import NONE, SELF

HERE = Path(__file__).resolve().parent
# The process's own TZ before Django sets it from TIME_ZONE (routecore_portal.apps puts it back:
# the portal shows every time in its number's zone explicitly, and a process that embeds the
# portal, or a test session that runs it beside others, keeps its local time).
ORIGINAL_TZ = os.environ.get("TZ")
RUN = Path(os.environ.get("ROUTECORE_RUN", "run"))


def _path(name: str, default: str) -> str:
    return os.environ.get(name) or str(RUN / default)


ROUTECORE = {
    "store": _path("ROUTECORE_STORE", "routecore.db"),
    "calls": _path("ROUTECORE_CALLS", "calls.db"),
    "image": _path("ROUTECORE_IMAGE", "routes.img"),
    "state": os.environ.get("ROUTECORE_STATE") or "",
    "recordings": _path("ROUTECORE_RECORDINGS", "recordings"),
    "prompts": _path("ROUTECORE_PROMPTS", "prompts"),
    "uploads": _path("ROUTECORE_PORTAL_UPLOADS", "uploads"),
    # Click to call: the PBX's control connection (ami://user:secret@host:5038 or
    # esl://:password@host:8021), how a seat's phone is dialled ({phone}) and where the
    # answered seat is sent with the customer's number (the agents' outbound call, B3).
    "pbx": os.environ.get("ROUTECORE_PBX") or "",
    "shards": os.environ.get("ROUTECORE_IMAGE_SHARDS") or "0",
    "seat_dial": os.environ.get("ROUTECORE_SEAT_DIAL") or "",
    "callback_context": os.environ.get("ROUTECORE_CALLBACK_CONTEXT") or "",
    # Alibaba Cloud's push of the phones' replies (T/TD opts out): its URL's secret part.
    "sms_hook_token": os.environ.get("ROUTECORE_SMS_HOOK_TOKEN") or "",
}
PORTAL_DB = _path("ROUTECORE_PORTAL_DB", "portal.db")


SECRET_FILE = Path(PORTAL_DB).with_name("portal-secret")


def _secret() -> str:
    """The signing key: the environment's, else the key file ``routecore-portal serve`` makes
    once beside the database, else one for this process only (tests, one-off commands)."""
    given = os.environ.get("ROUTECORE_PORTAL_SECRET")
    if given:
        return given
    try:
        return SECRET_FILE.read_text().strip()
    except FileNotFoundError:
        return secrets.token_urlsafe(50)


def make_secret_file() -> None:
    """Make the key file (mode 0600) when there is none, so sessions survive a restart."""
    if os.environ.get("ROUTECORE_PORTAL_SECRET") or SECRET_FILE.exists():
        return
    SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(50))


SECRET_KEY = _secret()
DEBUG = os.environ.get("ROUTECORE_PORTAL_DEBUG") == "1"
ALLOWED_HOSTS = [
    h
    for h in os.environ.get("ROUTECORE_PORTAL_HOSTS", "127.0.0.1,localhost,testserver").split(",")
    if h
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    "routecore_portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "routecore_portal.errors.StoreErrorMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "routecore_portal.urls"
ASGI_APPLICATION = "routecore_portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "routecore_portal.access.role_context",
            ],
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": PORTAL_DB,
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "routecore_portal.auth.NumberOrNameBackend",
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"

# Five wrong passwords for one login name lock it for 15 minutes, whatever the address.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "portal/locked.html"
AXES_VERBOSE = False
AXES_USERNAME_CALLABLE = "routecore_portal.auth.axes_username"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 8 * 3600
CSRF_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = os.environ.get("ROUTECORE_PORTAL_HTTPS") == "1"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "media-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [HERE / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Asia/Shanghai"

STATIC_URL = "/static/"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 11 * 1024 * 1024  # a prompt upload (10 MB) is read in memory

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["stderr"], "level": "WARNING"}},
}
