"""The WSGI entry: gunicorn wsgi:app, flask --app wsgi ..."""

from web import create_app

app = create_app()
