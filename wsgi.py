"""WSGI entry point: `gunicorn wsgi:app`."""

import sys

from portal import create_app
from portal.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # say what is wrong in one line, without a traceback
    sys.exit(f"The portal cannot start: {exc}")
