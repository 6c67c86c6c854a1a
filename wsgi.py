"""The WSGI entry point gunicorn serves: `gunicorn wsgi:app`."""

from receiver import create_app

app = create_app()
