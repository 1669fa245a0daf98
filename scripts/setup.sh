# Sourced by the two entry scripts: make (once) and activate .venv with the pinned requirements.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  echo "ckpt-bench: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
echo "ckpt-bench: installing requirements.txt into .venv (quick when already satisfied)"
python -m pip install --quiet --disable-pip-version-check -r requirements.txt
