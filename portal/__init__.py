"""The Stakeholder Inputs Portal: `create_app()` builds the Flask application."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

__all__ = ["create_app"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `config` overrides settings read from the environment.

    Touches neither the database nor the file store: `flask --app portal db upgrade`
    creates the schema. Raises portal.config.ConfigError when the environment is
    not fit to run (for example no SECRET_KEY in production).
    """
    from portal import config as config_module
    from portal import cache, errors, extensions, hooks
    from portal.cli import register_cli

    overrides = dict(config or {})
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    env = dict(os.environ)
    for name in ("PORTAL_ENV", "SECRET_KEY"):
        if name in overrides:
            env[name] = str(overrides[name])
    app.config.update(config_module.from_env(app.instance_path, env))
    app.config.update(overrides)
    # The instance folder holds the default SQLite database and file store.
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    extensions.init_app(app)
    hooks.init_app(app)
    cache.init_app(app)  # wraps app.wsgi_app: must see the environ as ProxyFix leaves it
    if app.config.get("PORTAL_TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["PORTAL_TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    errors.init_app(app)
    register_blueprints(app)
    register_cli(app)
    return app


def register_blueprints(app: Flask) -> None:
    from portal.account.views import bp as account_bp
    from portal.admin.views import bp as admin_bp
    from portal.api.views import bp as api_bp
    from portal.auth.views import bp as auth_bp
    from portal.feeds import bp as feeds_bp
    from portal.exports import bp as exports_bp
    from portal.moderate.views import bp as moderate_bp
    from portal.public.search import bp as search_bp
    from portal.public.views import bp as public_bp
    from portal.submit.views import bp as submit_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(search_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(submit_bp)
    app.register_blueprint(moderate_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(feeds_bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(api_bp)
