"""The side-by-side benchmark harness: this service measured beside other servers and its own ceilings.

Not installed with the product and never imported by it; run from the repository root as
``python -m bench {compare,overload,batching} [--quick] ...``:

compare   this service beside stock BentoML, a plain Starlette app, LitServe and TorchServe serving the
          same tabular model and digits CNN (JSON images and a PNG upload), with the in-process ceilings
          and the HTTP floor
overload  open-loop load at 4x the saturating rate with the in-flight limit at its default, tighter, by
          client deadline, and off: what is accepted, what is shed, how fast the server recovers
batching  the in-process batcher beside no batching and BentoML's batcher behind ``bentoml.depends``

Full runs write the committed result files under bench/results/ (BENCHMARK.md and bench.json,
OVERLOAD.md and overload.json, batching.md and batching.json); ``--quick`` runs write to
reports/bench/, reports/overload/ and reports/batching/ (git-ignored). Each needs wrk
(``apt-get install wrk``) and a trained model store in $BENTOML_HOME. Exit status: 0 when the run
completed and its checks passed, 1 when a check failed, 2 for a setup problem (wrk missing, a server
that would not start, no trained model). The servers compared live in bench/variants/.
"""
