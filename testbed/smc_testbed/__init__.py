"""smc-operator's testbed: what the demo, the tests and the benchmark run the operator against.

- ``emulator``: an SMC server that speaks SMC's RPC protocol to the unmodified Alibaba SDK.
- ``kubemock``: an in-process Kubernetes API (kmock plus a fidelity layer).
- ``demo``: ``smc-operator demo``, the whole product on one machine.

It is a separate distribution (``testbed/pyproject.toml``) so that ``pip install smc-operator``
and the image carry no test fake. It uses the operator's package; the operator never imports it,
except its command line, which starts ``demo`` and ``emulator`` from here when installed.
"""
