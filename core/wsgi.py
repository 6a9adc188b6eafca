"""WSGI entry point for gunicorn: `gunicorn -w 1 --threads 100 core.wsgi:app` (see `oss-connect serve`)."""

from core.app import create_app

app = create_app()
