#!/usr/bin/env bash
# Run the whole test suite on this machine: installs what a clean Debian machine lacks
# (a virtual X server and Mesa's OpenGL for napari's canvas; the CPU torch wheel; the
# project with its testing extra), then runs pytest under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v xvfb-run >/dev/null 2>&1 || need_apt+=(xvfb xauth)
for pkg in libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 \
  libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 \
  libxcb-image0 libxcb-xfixes0 libdbus-1-3 libfontconfig1; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

python -c "import torch" 2>/dev/null || python -m pip install -q torch==2.13.0
python -c "import napari_unsupseg, pytestqt, hypothesis" 2>/dev/null \
  || python -m pip install -q -e ".[testing]"

exec xvfb-run -a -s "-screen 0 1600x1000x24" python -m pytest "$@"
