"""WSGI entry point for gunicorn: `gunicorn redflask.wsgi:app`."""

from redflask import create_app

app = create_app()
