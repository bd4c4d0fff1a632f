"""The staff web workspace and the REST API (FastAPI; Jinja2 + htmx pages, ECharts charts).

A face over the same Python API the CLI calls: every page and route reads through a
:class:`canbao.warehouse.scope.Scope` built from the signed-in user, checks the one permission
table (:mod:`canbao.store.roles`) and renders errors from one handler (:mod:`.errors`).
Modules:

- :mod:`.app` — :func:`create_app` (middleware, static files, routers, the error handler);
- :mod:`.state` — what one process holds: data directory, the store, the region profile;
- :mod:`.auth` — sessions (cookie or bearer token), CSRF, :class:`.auth.Viewer` and :func:`need`;
- :mod:`.security` — security headers (CSP without inline script) and the masked access log;
- :mod:`.errors` — Chinese error pages for people, JSON for the API;
- :mod:`.routes` — the pages and the ``/api`` routes, one module per area.
"""

from canbao.web.app import create_app

__all__ = ["create_app"]
