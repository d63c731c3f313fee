"""Rolling the model replicas to a new image tag one at a time, and back, without dropping a request.

    make rollout TAG=2026-11-30       # python -m deploy.rollout to 2026-11-30
    make rollback                     # python -m deploy.rollout back

rolling.py holds the steps, whatever runs the replicas; compose.py runs them with docker compose;
deploy/topology/rolling.py runs them in the network-namespace topology, where the test measures them.
"""
