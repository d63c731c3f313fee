"""docker-compose.yml's topology, run for real without Docker, in private network namespaces.

    sudo .venv/bin/python -m deploy.topology --store "$BENTOML_HOME"    # from the repository root

It prints a JSON report on stdout (progress on stderr). Each compose "container" is a network namespace
of its own on one bridge (10.89.0.0/24), named as compose names it in a hosts file, with a DNS server
over that file as Docker's embedded DNS:

    model (x2)   `bentoml serve service.service:ModelService` with the environment `docker compose config`
                 renders for the model service (no --host/--port, as the image's entrypoint), each with
                 its own BENTOML_HOME holding a copy of the store's models, as an image bakes them in.
                 They run as root, not as the image's uid 1034: on these machines the venv's interpreter
                 lives under /root (mode 0700), which uid 1034 cannot reach.
    nginx        deploy/.tools/bin/nginx, deploy/nginx.conf bind-mounted read-only at
                 /etc/nginx/nginx.conf, as uid 101 (the nginx-unprivileged image's user)
    prometheus   deploy/.tools/bin/prometheus, deploy/prometheus.yml at /etc/prometheus/, compose's
                 command line with its data in /tmp, as uid 65534 (prom/prometheus's nobody)
    dnsmasq      not a compose service: on the bridge's address, answering from the hosts file, started
                 as root to bind port 53 and then running as nobody (Prometheus's DNS service discovery
                 asks a DNS server and ignores /etc/hosts)

nginx and Prometheus each get a bare environment (PATH, LANG) and a copy-on-write /tmp of their own.

Then, step by step (scenario.py): open-loop one-row /classify traffic through nginx (load/openloop.py)
with both replicas up; Prometheus scraping both; the same traffic while model-2 is stopped as
`docker compose stop` does (SIGTERM to its main process, up to 30 s to exit, then its namespace and
address go and dnsmasq forgets its name); a body over nginx's 8 MiB limit; Prometheus seeing model-2 go.
The report says what each replica served (its own serving_rows_total and nginx's access log), what
failed, what nginx retried, the replicas' resident memory, and what Prometheus discovered and scraped.

`--scenario rollout --new-store B [--bad-store X]` (rollout.py) runs instead deploy/rollout's rolling
replacement on these namespaces (rolling.py), with traffic through nginx: from tag a (--store), a
rollout to a tag whose replicas cannot start (X: refused), one replica to tag b (B: a canary), the
other one too, and both back to a. Each request carries an X-Request-ID, so the report says which
replica answered it and which version computed it.

The command re-executes itself under `unshare --net --mount --pid --fork`: nothing it starts can reach
or be reached from outside that namespace, everything it mounts (a copy-on-write /etc with the hosts
file, resolv.conf and the config files) is private to it, and every process it started dies with it.
A hard budget (--budget) ends a run that hangs.

Needs: root (or CAP_SYS_ADMIN and CAP_NET_ADMIN); unshare, nsenter and setpriv (util-linux), ip
(iproute2), overlayfs, bridge and veth support in the kernel; nginx, prometheus and dnsmasq in
deploy/.tools/bin (deploy/install-tools.sh); a model store with both models (`python -m training all`).
tests/deploy/test_topology.py runs it.

Exit status: 0 the run completed and its report is printed (the test judges the figures); 1 it failed
(the report's "error" says why), or unshare could not create the namespaces (stderr says why); 2 bad
arguments or missing tools; 3 the budget ran out (a report with "error" is printed first).
"""
