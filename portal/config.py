"""Configuration: the only module that reads environment variables.

`Config.from_env()` builds the settings for the environment named by PORTAL_ENV
(production by default; development; testing). Production refuses to start
without SECRET_KEY.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("production", "development", "testing")


class ConfigError(RuntimeError):
    """The environment does not allow the app to start."""


def _int(env: Mapping[str, str], name: str, default: int, *, allow_zero: bool = False) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}.") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{name} must be greater than zero, not {value}.")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}.") from None
    if not 0 <= value <= 3600:
        raise ConfigError(f"{name} must be from 0 to 3600 seconds, not {raw!r}.")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def sqlalchemy_url(url: str) -> str:
    """Normalise a DATABASE_URL as hosting platforms write it for SQLAlchemy + psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def from_env(instance_path: str | Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the Flask settings for the given environment variables.

    Raises ConfigError when a required variable is missing or malformed.
    """
    env = os.environ if env is None else env
    instance = Path(instance_path)
    name = env.get("PORTAL_ENV", "production").strip().lower() or "production"
    if name not in ENVIRONMENTS:
        raise ConfigError(f"PORTAL_ENV must be one of {', '.join(ENVIRONMENTS)}, not {name!r}.")

    secret_key = env.get("SECRET_KEY", "").strip()
    if not secret_key:
        if name == "production":
            raise ConfigError(
                "SECRET_KEY is not set. The portal refuses to start in production without it: "
                "set SECRET_KEY to a long random string (for example the output of "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`), "
                "or set PORTAL_ENV=development for a local run."
            )
        secret_key = f"insecure-{name}-key-do-not-use-in-production"

    upload_mb = _int(env, "PORTAL_MAX_UPLOAD_MB", 25)
    decompressed_mb = _int(env, "PORTAL_MAX_DECOMPRESSED_MB", 100)
    mail_server = env.get("MAIL_SERVER", "").strip()
    mail_use_tls = _bool(env, "MAIL_USE_TLS", False)
    database_url = env.get("DATABASE_URL", "").strip() or f"sqlite:///{instance / 'portal.sqlite3'}"
    storage_dir = env.get("PORTAL_STORAGE_DIR", "").strip() or str(instance / "files")

    return {
        "PORTAL_ENV": name,
        "DEBUG": False,
        "TESTING": name == "testing",
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(database_url),
        # Connections idle for a while are pinged before use (portal/extensions.py), not all.
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "PORTAL_STORAGE_DIR": storage_dir,
        "PORTAL_MAX_UPLOAD_BYTES": upload_mb * 1024 * 1024,
        # The whole request may carry a file up to twice the limit (plus the form fields),
        # so that a file slightly too large is answered on the form with the other fields
        # kept; anything larger is cut off by Werkzeug with 413 before it is read.
        "MAX_CONTENT_LENGTH": upload_mb * 2 * 1024 * 1024 + 1024 * 1024,
        # A DOCX or ODT whose parts would expand beyond this is refused (a "zip bomb").
        "PORTAL_MAX_DECOMPRESSED_BYTES": decompressed_mb * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env, "PORTAL_SECURE_COOKIES", False),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool(env, "PORTAL_SECURE_COOKIES", False),
        "PORTAL_SITE_NAME": env.get("PORTAL_SITE_NAME", "Stakeholder Inputs Portal"),
        "PORTAL_PAGE_SIZE": 50,
        # Search results carry a passage of their text each: 20 a page, as the API's default.
        "PORTAL_SEARCH_PAGE_SIZE": 20,
        # Outgoing mail: SMTP when MAIL_SERVER is set, otherwise .eml files in MAIL_FOLDER.
        "MAIL_SERVER": mail_server,
        "MAIL_PORT": _int(env, "MAIL_PORT", 587 if mail_use_tls else 25),
        "MAIL_USE_TLS": mail_use_tls,
        "MAIL_USERNAME": env.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", ""),
        "MAIL_FROM": env.get("MAIL_FROM", "Stakeholder Inputs Portal <no-reply@localhost>"),
        "MAIL_TIMEOUT": 10,
        "MAIL_FOLDER": env.get("MAIL_FOLDER", "").strip() or str(instance / "mail"),
        # Abuse limits (Flask-Limiter syntax); in-memory unless RATELIMIT_STORAGE_URI names e.g. redis://.
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "").strip() or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "PORTAL_SIGN_IN_LIMIT": "10 per minute;100 per hour",
        "PORTAL_REGISTER_LIMIT": "5 per hour",
        "PORTAL_RESET_LIMIT": "5 per hour",
        "PORTAL_TWO_FACTOR_LIMIT": "10 per minute",
        # Authentication codes accepted this many 30-second steps before or after now (clock drift).
        "PORTAL_TOTP_VALID_WINDOW": 1,
        "PORTAL_LOCKOUT_THRESHOLD": 5,  # consecutive failed sign-ins before the account is locked
        "PORTAL_LOCKOUT_MINUTES": 15,
        # Lifetimes of the links sent by e-mail, in seconds.
        "PORTAL_VERIFY_MAX_AGE": 3 * 24 * 3600,
        "PORTAL_RESET_MAX_AGE": 3600,
        "PORTAL_INVITATION_DAYS": 14,
        # Behind a reverse proxy: how many proxies to trust for X-Forwarded-For/-Proto.
        "PORTAL_TRUSTED_PROXIES": _int(env, "PORTAL_TRUSTED_PROXIES", 0, allow_zero=True),
        # How long a moderator's claim on a queue item keeps others from deciding it.
        "PORTAL_CLAIM_MINUTES": _int(env, "PORTAL_CLAIM_MINUTES", 30),
        # Where the portal is reached, for links in e-mails sent outside a request (the digest command).
        "PORTAL_BASE_URL": env.get("PORTAL_BASE_URL", "").strip().rstrip("/") or "http://localhost:5000",
        # HTTP caching of the public record (portal/cache.py): rendered anonymous pages kept per
        # worker (0 keeps ETag/304 but stores nothing), and how long a proxy or browser may reuse one.
        "PORTAL_PAGE_CACHE_SIZE": _int(env, "PORTAL_PAGE_CACHE_SIZE", 512, allow_zero=True),
        "PORTAL_PUBLIC_MAX_AGE": _int(env, "PORTAL_PUBLIC_MAX_AGE", 60, allow_zero=True),
        # Seconds a worker reuses the public revision before asking the database again (0: every
        # request asks). Commits in the same worker are seen at once; other workers' within this.
        "PORTAL_REVISION_TTL": _float(env, "PORTAL_REVISION_TTL", 1.0),
        # Session-page counts and organisation lists kept per worker for the current revision.
        "PORTAL_PUBLIC_MEMO_SIZE": _int(env, "PORTAL_PUBLIC_MEMO_SIZE", 256, allow_zero=True),
    }
