"""The benchmark and the fault-injection soak of smc-operator: one command each.

::

    python -m bench --objects 100 1000 5000          # the table of docs/performance.md
    python -m bench.soak --objects 1000 --kills 5    # the long soak (the short one is a test)

Every party runs in its own process, so that CPU and memory can be read per party from
``/proc/<pid>``: the emulated Kubernetes API (:mod:`bench.servers`, kmock with the fidelity layer
of :mod:`smc_testbed.kubemock`), the SMC emulator (``python -m smc_testbed.emulator``), the
system under test (the operator, ``python -m smc_operator.cli run``, or a floor client of
:mod:`bench.floors`), and the driver (this process: it creates the objects, watches them until
they are ``Started`` and computes the latencies).

Modules:

- ``procs``: child processes and their CPU seconds and memory from ``/proc``;
- ``servers``: ``python -m bench.servers kube ...``: the Kubernetes API emulator with counters
  and faults under ``/_bench/``;
- ``kubeapi`` / ``smcapi``: small HTTP clients for the two emulators (API and control);
- ``floors``: ``python -m bench.floors smc|system ...``: the SMC floor and the system floor;
- ``driver``: one measured phase (servers up, target up, N objects created and watched);
- ``profiles``: py-spy's collapsed stacks to top functions by self and total time;
- ``report``: the JSON result and the markdown table;
- ``run``: the command line of ``python -m bench``;
- ``soak``: the fault-injection soak and its invariants;
- ``whatif/sitecustomize.py``: ``--kopf-setting``: measure the operator with a kopf setting it
  does not expose (for measurement only).

Results and findings: ``docs/performance.md``.

Only the project's installed dependencies and the standard library are needed; ``--profile``
additionally needs ``py-spy`` on PATH (or in the interpreter's bin directory).
"""
