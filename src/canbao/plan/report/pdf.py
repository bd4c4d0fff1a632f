"""HTML → PDF with Debian's headless Chromium (``--print-to-pdf``).

Chromium is looked up as ``$CANBAO_CHROMIUM`` or ``chromium`` / ``chromium-browser`` /
``google-chrome`` on PATH. CJK text needs ``fonts-noto-cjk``. Both are installed by
``scripts/system-deps.sh``. A missing browser raises :class:`DependencyError` with the install hint.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from canbao.errors import DependencyError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HINT = "请安装：apt-get install chromium fonts-noto-cjk（或 bash scripts/system-deps.sh），或设置 CANBAO_CHROMIUM 指向浏览器程序"
TIMEOUT_S = 120


def find_chromium() -> str:
    env = os.environ.get("CANBAO_CHROMIUM")
    if env:
        found = shutil.which(env)
        if found:
            return found
        raise DependencyError(
            f"CANBAO_CHROMIUM 指向的浏览器不存在：{env}。{HINT}",
            "CANBAO_CHROMIUM does not point to an executable",
        )
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise DependencyError(
        f"生成 PDF 需要 Chromium 浏览器，但未找到。{HINT}",
        "chromium not found on PATH (needed for PDF)",
    )


def html_to_pdf(html_path: Path, pdf_path: Path) -> Path:
    exe = find_chromium()
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="canbao-chromium-") as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf_path.resolve()}",
            html_path.resolve().as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as e:
            raise DependencyError(
                f"Chromium 生成 PDF 超时（{TIMEOUT_S} 秒）", "chromium --print-to-pdf timed out"
            ) from e
        except OSError as e:
            raise DependencyError(f"无法启动 Chromium：{exe}。{HINT}", str(e)) from e
    if proc.returncode != 0 or not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise DependencyError(
            f"Chromium 未能生成 PDF（退出码 {proc.returncode}）", " | ".join(tail)
        )
    return pdf_path
