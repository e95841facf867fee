"""gunicorn's settings for the portal's web process. The Dockerfile and docker-compose.yml start it with
``gunicorn --config gunicorn.conf.py …``; their command lines add the address, the workers and the timeout.
"""

# Access lines go to standard output, for `docker compose logs web`.
accesslog = "-"
# The access log never holds a query string or a referrer: either may carry a secret (a token someone put
# in an address). A line is the Apache combined format with the path alone and the referrer as "-", then
# the request id the portal answered with (X-Request-ID), which its own log lines carry too.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "-" "%(a)s" %({x-request-id}o)s'
# A request gunicorn kills after this many seconds: above every statement's and lock's timeout in the
# database (DB_STATEMENT_TIMEOUT_MS, 30 s), so the portal answers first. The command lines of the
# Dockerfile and docker-compose.yml say the same.
timeout = 60


def post_worker_init(worker):
    """Each worker, once the portal is loaded, sets the garbage collector for serving pages
    (atlanset_portal/collector.py)."""
    from atlanset_portal.collector import tune_for_requests

    tune_for_requests()
