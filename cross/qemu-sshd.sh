#!/usr/bin/env bash
# Start/stop the SSH server through which targets/qemu-aarch64*.yaml reach the emulated board:
# OpenSSH on 127.0.0.1:2222, run as you with its own config, key-only auth, and its host key
# pinned in the known_hosts file the profiles name. Keys live in $BOARD/ssh.
#
#   bash cross/qemu-sshd.sh start | stop | status
set -euo pipefail
BOARD=${EDGEFER_QEMU_DIR:-$HOME/.cache/edgefer/qemu-aarch64}
PORT=${EDGEFER_QEMU_SSH_PORT:-2222}   # the profiles say 2222: change both together
DIR="$BOARD/ssh"
SSHD=$(command -v sshd || echo /usr/sbin/sshd)

running() { [ -f "$DIR/sshd.pid" ] && kill -0 "$(cat "$DIR/sshd.pid")" 2>/dev/null; }

case "${1:-}" in
  start)
    [ -x "$SSHD" ] || { echo "sshd not found: apt-get install openssh-server" >&2; exit 2; }
    if running; then echo "already running (pid $(cat "$DIR/sshd.pid")) on 127.0.0.1:$PORT"; exit 0; fi
    mkdir -p "$DIR" && chmod 700 "$DIR"
    [ -f "$DIR/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N "" -f "$DIR/ssh_host_ed25519_key"
    [ -f "$DIR/id_ed25519" ] || ssh-keygen -q -t ed25519 -N "" -f "$DIR/id_ed25519"
    cp "$DIR/id_ed25519.pub" "$DIR/authorized_keys"
    echo "[127.0.0.1]:$PORT $(cat "$DIR/ssh_host_ed25519_key.pub")" > "$DIR/known_hosts"
    cat > "$DIR/sshd_config" <<CFG
Port $PORT
ListenAddress 127.0.0.1
HostKey $DIR/ssh_host_ed25519_key
PidFile $DIR/sshd.pid
AuthorizedKeysFile $DIR/authorized_keys
AllowUsers $(id -un)
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
CFG
    [ "$(id -u)" != 0 ] || mkdir -p /run/sshd   # privilege-separation dir, needed when root
    "$SSHD" -f "$DIR/sshd_config" -E "$DIR/sshd.log"   # daemonizes; writes the pid file
    for _ in $(seq 50); do running && break; sleep 0.1; done
    running || { echo "sshd did not start; see $DIR/sshd.log" >&2; exit 1; }
    echo "sshd for the emulated board on 127.0.0.1:$PORT (pid $(cat "$DIR/sshd.pid"))"
    ;;
  stop)
    if running; then kill "$(cat "$DIR/sshd.pid")"; echo stopped; else echo "not running"; fi
    ;;
  status)
    if running; then echo "running (pid $(cat "$DIR/sshd.pid")) on 127.0.0.1:$PORT"; else echo "not running"; exit 1; fi
    ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
