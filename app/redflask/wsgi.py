"""WSGI entry point for gunicorn: `gunicorn -c configm.py redflask.wsgi:app`."""

from redflask import create_app

app = create_app()
