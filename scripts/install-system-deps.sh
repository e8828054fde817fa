#!/usr/bin/env bash
# Installs the Debian packages the suite needs (scripts/system-deps.txt) when they are missing.
# Usage: scripts/install-system-deps.sh [package-list-file]
set -euo pipefail
list="${1:-$(dirname "$0")/system-deps.txt}"
missing=()
while read -r pkg; do
  [ -z "$pkg" ] && continue
  case "$pkg" in \#*) continue ;; esac
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < "$list"
if [ ${#missing[@]} -eq 0 ]; then
  echo "系统依赖已齐全 (system packages present)."
  exit 0
fi
echo "安装系统依赖 (installing): ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "系统依赖安装完成。"
