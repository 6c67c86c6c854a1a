"""Read by `gunicorn wsgi:app` from the working directory: the receiver's settings."""

from receiver.gunicorn_config import *  # noqa: F401,F403
