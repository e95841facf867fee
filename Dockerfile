# The portal's image: the web app (gunicorn + whitenoise), the Celery worker and beat, and the backups all
# run from it.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# pg_dump and pg_restore for the backups, of the database's major version (the db service's postgres:16):
# a newer server than the client refuses the dump. They come from the PostgreSQL project's Debian
# repository, which postgresql-common knows how to add (with its signing key).
ARG POSTGRES_MAJOR=16
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-common \
 && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
 && apt-get install -y --no-install-recommends "postgresql-client-${POSTGRES_MAJOR}" \
 && rm -rf /var/lib/apt/lists/*

# /backups is the backup service's volume: a new volume takes the owner of its folder in the image.
RUN useradd --create-home --uid 1000 portal && mkdir -p /data/media /data/beat /backups \
 && chown -R portal /data /backups
WORKDIR /app

COPY pyproject.toml README.md ./
COPY . .
RUN pip install -e . \
 && DEBUG=0 SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput

USER portal
EXPOSE 8000
CMD ["gunicorn", "--config", "gunicorn.conf.py", "atlanset_portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
