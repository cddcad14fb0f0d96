#!/usr/bin/env bash
# CI: install what the deploy/emulated-board tests need and build the emulated aarch64 board.
# Idempotent: apt runs only for missing tools, the board build is skipped when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)  # dynamic qemu: loads the instruction-count plugin
command -v gcc >/dev/null || need+=(gcc)                 # builds that plugin
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v chromium >/dev/null || need+=(chromium)  # the HTML report is checked in a real headless browser
if [ ${#need[@]} -gt 0 ]; then
  echo "[setup-board] apt-get install ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

bash cross/setup-qemu-aarch64.sh
