#!/usr/bin/env bash
# The suite's own tests (tiny preset, about 9 minutes on 2 cores). Extra arguments go to pytest.
source "$(dirname "$0")/scripts/setup.sh"
python -m pytest tests/ "$@"
