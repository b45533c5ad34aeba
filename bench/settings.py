"""The site's own settings, plus the bench's ceiling view (bench/urls.py).

gunicorn serves every figure of a bench run with these settings, so the ceiling and
the pages go through the same middleware, database and cache configuration; the
production URLs stay free of the ceiling view.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
