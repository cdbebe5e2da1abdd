"""smc-operator: start Alibaba Cloud SMC replication jobs from Kubernetes, exactly once.

Layers, from the bottom up (import-linter enforces the direction, and that every module has one):

- ``wire``: SMC's protocol facts shared with the emulator (actions, codes, messages, states).
- ``settings``, ``model``: typed configuration and the resource's shapes.
- ``reasons``: the one table of what each ``Started`` reason means.
- ``conditions``, ``credentials``, ``outcomes``, ``ratelimit``, ``clocks``, ``metrics``, ``peers``.
- ``errors`` (each SMC failure classified once), ``backoff``, ``events``.
- ``decide``: the state machine, pure: what happens next to a ReplicationJob. ``observations``:
  what the job refresher polls and writes.
- ``apis``: the seams to SMC and Kubernetes, as Protocols.
- ``smc`` (the only importer of the Alibaba SDK), ``kube``, ``registry``: the adapters.
- ``keys``, ``starting`` (one start attempt, as numbered I/O steps), ``refreshing`` (the job
  mirror).
- ``handlers``: the only importer of kopf; translates between kopf and the verdicts.
- ``cli``: the command line.

The SMC emulator, the Kubernetes API stand-in and the demo are not here: they are the testbed
(``testbed/``, package ``smc_testbed``), which a production install does not carry.
"""
