#!/usr/bin/env bash
# Starts the services the test-suite needs. Each later service adds itself here.
set -euo pipefail
exit 0
