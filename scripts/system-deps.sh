#!/usr/bin/env bash
# Installs the Debian packages Canbao needs (idempotent; only calls apt-get when something is missing).
set -euo pipefail
need=()
python3 -m venv --help >/dev/null 2>&1 || need+=(python3-venv)
python3 -c "import ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
# CJK fonts for PDF/PNG reports.
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
# pdftoppm turns report PDFs into PNG pages for review.
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
# Headless Chromium prints the HTML 通报 to PDF (canbao report).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# Java 17 runs PySpark (canbao build --engine spark; the Spark equivalence test).
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
# PostgreSQL 15: the production database of the store (canbao.store); tested in `make test`.
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "需要安装系统软件包 (missing system packages): ${need[*]} — 请以 root 运行 (run as root)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
