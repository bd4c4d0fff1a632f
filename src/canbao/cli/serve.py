"""``canbao serve``: the staff web workspace and the REST API (uvicorn)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from canbao.cli._app import DataDir, ProfileOpt, app, console, default_data_dir
from canbao.errors import UsageError
from canbao.store.db import ENV_URL

DbUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", envvar=ENV_URL, help="数据库地址；默认为数据目录中的 store.sqlite3"
    ),
]


def _check_port(host: str, port: int) -> None:
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as e:
        raise UsageError(
            f"无法在 {host}:{port} 启动网站（端口已被占用或地址无效），请用 --port 换一个端口",
            f"cannot listen on {host}:{port}: {e.strerror}",
        ) from e


@app.command("serve")
def serve(
    data_dir: DataDir = None,  # type: ignore[assignment]
    host: Annotated[str, typer.Option("--host", help="监听地址（listen address）")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="端口（port）")] = 8000,
    secure_cookies: Annotated[
        bool,
        typer.Option(
            "--secure-cookies", help="经 HTTPS 反向代理访问时启用（cookies over TLS only）"
        ),
    ] = False,
    database_url: DbUrl = None,
    profile: ProfileOpt = None,
) -> None:
    """Serve the workspace (pages in Chinese, API under /api, docs at /api/docs)."""
    import uvicorn

    from canbao.store.db import open_store
    from canbao.web import create_app

    data: Path = data_dir if data_dir is not None else default_data_dir()
    _check_port(host, port)
    store = open_store(data, database_url)
    web = create_app(data, store=store, profile=profile, secure_cookies=secure_cookies)
    logging.getLogger("canbao.web.access").setLevel(logging.INFO)
    console.print(f"参保工作台已启动：http://{host}:{port}/ （按 Ctrl+C 停止）", markup=False)
    uvicorn.run(
        web, host=host, port=port, access_log=False, proxy_headers=True, log_level="warning"
    )
