"""sijil.web: the desk web app, a shell over sijil.desk (Starlette, Jinja2, HTMX).

It parses requests, asks sijil.desk, renders pages in Arabic or English, and
maps errors to a one-line message in the reader's language with a 4xx status.
Who may open which page is one table (sijil.web.access); sessions, credentials
and the activity log are sijil.desk's (accounts, web_sessions, activity_log).
``create_app(config)`` builds it from one frozen config (sijil.web.config).
"""

from __future__ import annotations

__all__: list[str] = []
