"""The work queue: N worker processes share intake through jobs in PostgreSQL.

A desk on PostgreSQL can hand intake to workers: ``sijil desk import --queue`` and
``sijil desk pull --queue`` keep each sealed envelope in the vault (already
encrypted to the desk, content-addressed, so keeping it twice is harmless) and
enqueue a job naming it; ``sijil desk worker`` processes take the jobs, open,
verify, register or quarantine each envelope, fingerprint its media and match it
against the near-duplicate index, exactly as an inline import does
(:mod:`sijil.desk.intake`). The queue is procrastinate's, in the desk's own
database (docs/scale.md says why).

Correctness does not rest on the queue delivering a job once: registration takes
the ledger's lock and checks the envelope id (one sequencer), so a job run twice,
or an envelope enqueued from two channels, registers once. A worker killed mid-job
leaves its job ``doing`` with a heartbeat that stops; the others' sweep
(:mod:`sijil.jobs.worker`) puts it back in the queue once the heartbeat is stale.

- :mod:`sijil.jobs.queue`: the procrastinate app on a desk's database, its schema;
- :mod:`sijil.jobs.enqueue`: keep and enqueue (import and pull with ``--queue``);
- :mod:`sijil.jobs.work`: what a job does (take one envelope; backfill);
- :mod:`sijil.jobs.worker`: worker processes, heartbeats and the stalled-job sweep.

A SQLite desk is one process: every command runs inline, and ``--queue`` is refused.
"""
