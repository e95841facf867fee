# The portal's image: the web app (gunicorn + whitenoise), the Celery worker and beat all run from it.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 1000 portal && mkdir -p /data/media /data/beat && chown -R portal /data
WORKDIR /app

COPY pyproject.toml README.md ./
COPY . .
RUN pip install -e . \
 && DEBUG=0 SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput

USER portal
EXPOSE 8000
CMD ["gunicorn", "--config", "gunicorn.conf.py", "atlanset_portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
