"""Configuration comes from the environment, in one place, with clear refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from portal import create_app
from portal.config import ConfigError, from_env

ROOT = Path(__file__).resolve().parent.parent


def test_from_env_production_without_secret_key_refuses():
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        from_env("/srv/instance", {})


def test_from_env_production_with_secret_key_uses_defaults(tmp_path):
    settings = from_env(tmp_path, {"SECRET_KEY": "s3cret"})
    assert settings["PORTAL_ENV"] == "production"
    assert settings["SECRET_KEY"] == "s3cret"
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'portal.sqlite3'}"
    assert settings["PORTAL_STORAGE_DIR"] == str(tmp_path / "files")
    assert settings["PORTAL_MAX_UPLOAD_BYTES"] == 25 * 1024 * 1024
    assert settings["MAX_CONTENT_LENGTH"] > settings["PORTAL_MAX_UPLOAD_BYTES"]
    assert settings["SESSION_COOKIE_HTTPONLY"] is True
    assert settings["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_from_env_reads_every_variable(tmp_path):
    settings = from_env(
        tmp_path,
        {
            "SECRET_KEY": "k",
            "DATABASE_URL": "postgres://u:p@db.example:5432/portal",
            "PORTAL_STORAGE_DIR": "/data/files",
            "PORTAL_MAX_UPLOAD_MB": "10",
        },
    )
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db.example:5432/portal"
    assert settings["PORTAL_STORAGE_DIR"] == "/data/files"
    assert settings["PORTAL_MAX_UPLOAD_BYTES"] == 10 * 1024 * 1024


@pytest.mark.parametrize("value", ["ten", "0", "-5", "2.5"])
def test_from_env_bad_upload_limit_refuses(tmp_path, value):
    with pytest.raises(ConfigError, match="PORTAL_MAX_UPLOAD_MB"):
        from_env(tmp_path, {"SECRET_KEY": "k", "PORTAL_MAX_UPLOAD_MB": value})


def test_from_env_unknown_environment_refuses(tmp_path):
    with pytest.raises(ConfigError, match="PORTAL_ENV must be one of"):
        from_env(tmp_path, {"PORTAL_ENV": "staging"})


@pytest.mark.parametrize("env", ["development", "testing"])
def test_from_env_development_and_testing_need_no_secret_key(tmp_path, env):
    assert from_env(tmp_path, {"PORTAL_ENV": env})["SECRET_KEY"]


def test_create_app_overrides_win(tmp_path):
    app = create_app({"PORTAL_ENV": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})
    assert app.config["TESTING"] is True
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("x.db")
    assert Path(app.template_folder) == ROOT / "templates"
    assert Path(app.static_folder) == ROOT / "static"


def test_wsgi_without_secret_key_exits_with_message(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "The portal cannot start: SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_wsgi_app_freezes_its_startup_objects(tmp_path):
    """wsgi.py moves what the app holds for its lifetime out of the garbage collector's sight."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PORTAL_ENV": "development",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "PORTAL_STORAGE_DIR": str(tmp_path / "files")}
    result = subprocess.run(
        [sys.executable, "-c", "import gc, wsgi; print(gc.get_freeze_count())"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) > 10_000
