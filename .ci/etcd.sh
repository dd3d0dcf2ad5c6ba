#!/usr/bin/env bash
# A throw-away etcd on loopback for the shared-state tests and benchmarks.
#
#   .ci/etcd.sh start [DIR]   install etcd if missing (Debian package etcd-server), start it
#                             on 127.0.0.1 with free ports and its data in DIR/data, wait
#                             until it is healthy, print the client endpoint on stdout.
#                             Starting a DIR that was stopped reuses its data and ports, so
#                             the endpoint stays the same; a DIR whose etcd runs is reused.
#   .ci/etcd.sh stop [DIR]    stop the etcd of DIR; keep its data and ports (start resumes).
#   .ci/etcd.sh clean [DIR]   stop it and remove DIR.
#
# DIR defaults to $DUALSTACK_ETCD_DIR, else /dev/shm/dualstack-etcd (tmpfs: etcd's fsync
# per write costs nothing there, and a test writes a key thousands of times), else
# ${TMPDIR:-/tmp}/dualstack-etcd. Exit status: 0 ok, 3 no etcd binary can be had, 1 other
# failures. Diagnostics go to stderr; etcd's own log is DIR/etcd.log.
set -euo pipefail

die() {
    echo "etcd.sh: $1" >&2
    exit "${2:-1}"
}

default_dir() {
    if [[ -n "${DUALSTACK_ETCD_DIR:-}" ]]; then
        echo "$DUALSTACK_ETCD_DIR"
    elif [[ -d /dev/shm && -w /dev/shm ]]; then
        echo /dev/shm/dualstack-etcd
    else
        echo "${TMPDIR:-/tmp}/dualstack-etcd"
    fi
}

ensure_etcd() {
    command -v etcd >/dev/null 2>&1 && return 0
    [[ -x /usr/bin/etcd ]] && return 0
    # Installing a system package is CI's business (.ci/run sets DUALSTACK_INSTALL_ETCD=1);
    # a developer's local test run skips the etcd tests instead of running apt-get.
    if [[ "${DUALSTACK_INSTALL_ETCD:-0}" != 1 ]]; then
        die "no etcd binary; install the etcd-server package (or set DUALSTACK_INSTALL_ETCD=1 to let the tests install it with apt-get as root)" 3
    fi
    if [[ "$(id -u)" != 0 ]]; then
        die "no etcd binary and not root, so apt-get cannot install the etcd-server package" 3
    fi
    command -v apt-get >/dev/null 2>&1 || die "no etcd binary and no apt-get to install one" 3
    echo "etcd.sh: installing etcd-server with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    # policy-rc.d keeps the package's own service from starting where no init runs it.
    apt-get update -qq >&2 || die "apt-get update failed" 3
    apt-get install -y -qq --no-install-recommends etcd-server >&2 \
        || die "apt-get install etcd-server failed" 3
    command -v etcd >/dev/null 2>&1 || die "etcd-server installed but no etcd on PATH" 3
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

healthy() {
    python3 - "$1" <<'EOF'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1] + "/health", timeout=1) as r:
        sys.exit(0 if json.load(r).get("health") == "true" else 1)
except Exception:
    sys.exit(1)
EOF
}

running() {
    [[ -f "$1/pid" ]] && kill -0 "$(cat "$1/pid")" 2>/dev/null
}

start() {
    local dir=$1
    ensure_etcd
    mkdir -p "$dir"
    if running "$dir" && healthy "$(cat "$dir/endpoint")"; then
        cat "$dir/endpoint"
        return 0
    fi
    if [[ ! -f "$dir/ports" ]]; then
        echo "$(free_port) $(free_port)" >"$dir/ports"
    fi
    local client peer
    read -r client peer <"$dir/ports"
    local endpoint="http://127.0.0.1:$client"
    echo "$endpoint" >"$dir/endpoint"
    # setsid: etcd outlives this script and ignores the caller's terminal signals.
    setsid etcd \
        --name dualstack-test \
        --data-dir "$dir/data" \
        --listen-client-urls "$endpoint" \
        --advertise-client-urls "$endpoint" \
        --listen-peer-urls "http://127.0.0.1:$peer" \
        --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
        --initial-cluster "dualstack-test=http://127.0.0.1:$peer" \
        --auto-compaction-mode revision --auto-compaction-retention 1000 \
        --logger zap --log-outputs "$dir/etcd.log" \
        </dev/null >>"$dir/etcd.out" 2>&1 &
    echo $! >"$dir/pid"
    local i
    for i in $(seq 1 100); do
        if healthy "$endpoint"; then
            echo "$endpoint"
            return 0
        fi
        running "$dir" || break
        sleep 0.1
    done
    tail -n 20 "$dir/etcd.out" "$dir/etcd.log" >&2 2>/dev/null || true
    stop "$dir"
    die "etcd did not become healthy at $endpoint (log: $dir/etcd.log)"
}

stop() {
    local dir=$1 pid i
    [[ -f "$dir/pid" ]] || return 0
    pid=$(cat "$dir/pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/pid"
}

mode=${1:-}
dir=${2:-$(default_dir)}
case "$mode" in
    start) start "$dir" ;;
    stop) stop "$dir" ;;
    clean)
        stop "$dir"
        rm -rf "$dir"
        ;;
    *) die "usage: $0 start|stop|clean [DIR]" 2 ;;
esac
