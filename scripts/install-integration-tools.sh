#!/usr/bin/env bash
# Install the external tools the integration tests talk to, each in its own virtual environment
# (their pins clash with ours):
#   .venv-labelstudio  the Label Studio server (annotator hand-off round trip)
#   .venv-datumaro     Datumaro (reads/writes CVAT XML and ImageNet txt, to check our files)
# Idempotent: a venv whose tool already imports is left alone. Usage:
#   scripts/install-integration-tools.sh [labelstudio|datumaro ...]   (default: both)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
LABEL_STUDIO_SPEC="${LABEL_STUDIO_SPEC:-label-studio==1.23.2}"
DATUMARO_SPEC="${DATUMARO_SPEC:-datumaro==1.13.12}"

install_tool() {
    local venv="$1" spec="$2" probe="$3"
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$probe" >/dev/null 2>&1; then
        echo "$(basename "$venv"): already installed"
        return 0
    fi
    echo "$(basename "$venv"): installing $spec ..."
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
    "$venv/bin/python" -m pip install --quiet "$spec"
    "$venv/bin/python" -c "$probe"
    echo "$(basename "$venv"): done"
}

tools=("$@")
if [ ${#tools[@]} -eq 0 ]; then
    tools=(labelstudio datumaro)
fi
for tool in "${tools[@]}"; do
    case "$tool" in
        labelstudio)
            install_tool "$ROOT/.venv-labelstudio" "$LABEL_STUDIO_SPEC" \
                "import label_studio, sys; print('label-studio', label_studio.__version__)"
            ;;
        datumaro)
            install_tool "$ROOT/.venv-datumaro" "$DATUMARO_SPEC" \
                "import datumaro, sys; print('datumaro', datumaro.__version__)"
            ;;
        *)
            echo "unknown tool: $tool (expected labelstudio or datumaro)" >&2
            exit 2
            ;;
    esac
done
