"""The FastAPI application of the staff workspace and the REST API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from canbao import __version__
from canbao.profile import profile_for
from canbao.store.db import Store, open_store
from canbao.web import errors, routes, warmup
from canbao.web.security import secure_headers
from canbao.web.state import STATIC, WebState, make_templates


def create_app(
    data_dir: Path,
    *,
    store: Store | None = None,
    profile: str | None = None,
    secure_cookies: bool = False,
    warm: bool = True,
) -> FastAPI:
    """The app over ``data_dir`` (its store unless ``store`` is given). ``secure_cookies``:
    behind TLS, send the session cookie only over HTTPS. ``warm``: while the app runs, prepare
    the dashboard's figures and the per-build indexes in the background, at start-up and when
    the data change (:mod:`canbao.web.warmup`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warmer = warmup.Warmer(app.state.canbao) if warm else None
        if warmer is not None:
            warmer.start()
        try:
            yield
        finally:
            if warmer is not None:
                warmer.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="参保 Canbao API",
        version=__version__,
        description="全民参保登记、扩面征缴与任务督导平台的接口（列表中的身份证号均已脱敏）。",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    binding = profile_for(data_dir, profile, remember=False)
    templates = make_templates()
    region = binding.profile

    def county_names(viewer: object) -> str:
        codes = sorted(getattr(getattr(viewer, "scope", None), "counties", None) or ())
        names = [region.unit_name(c) for c in codes if region.county(c) is not None]
        return "、".join(n for n in names if n) or "、".join(codes)

    templates.env.globals["county_names"] = county_names
    templates.env.globals["region"] = region
    app.state.canbao = WebState(
        data_dir=data_dir,
        store=store if store is not None else open_store(data_dir),
        profile=region,
        templates=templates,
        secure_cookies=secure_cookies,
    )
    errors.install(app)
    app.middleware("http")(secure_headers)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for router in routes.ROUTERS:
        app.include_router(router)
    return app
