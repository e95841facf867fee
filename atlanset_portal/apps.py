from django.contrib.staticfiles.apps import StaticFilesConfig


class PortalStaticFilesConfig(StaticFilesConfig):
    """``collectstatic`` leaves out the Bootstrap builds the pages never link (only bootstrap.min.css and
    bootstrap.bundle.min.js are used): hashing and compressing them took most of a collect."""

    ignore_patterns = [
        *StaticFilesConfig.ignore_patterns,
        "bootstrap/css/bootstrap-*",
        "bootstrap/css/*.rtl.*",
        "bootstrap/css/bootstrap.css*",
        "bootstrap/js/bootstrap.js*",
        "bootstrap/js/bootstrap.min.js*",
        "bootstrap/js/bootstrap.esm*",
        "bootstrap/js/bootstrap.bundle.js*",
        "bootstrap/js/jquery*",
    ]
