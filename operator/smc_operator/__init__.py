"""smc-operator: start Alibaba Cloud SMC replication jobs from Kubernetes, exactly once.

Layers, from the bottom up (import-linter enforces the direction):

- ``wire``: SMC's protocol facts shared with the emulator (actions, codes, messages, states).
- ``settings``, ``model``, ``credentials``: typed configuration and resource shapes.
- ``errors``, ``backoff``, ``conditions``, ``decide``: pure decision logic; no I/O, no kopf, no SDK.
- ``smc`` (the only importer of the Alibaba SDK) and ``kube``: the adapters that do I/O.
- ``handlers``: the only importer of kopf; thin glue from events to decisions to adapters.
- ``cli``: the command line.

``emulator`` is a separate subpackage: an SMC server for local runs and tests.
"""
