"""``kubectl smc``: the kubectl plugin (the console script ``kubectl-smc``).

- ``kubectl smc get [NAME] [-n NS | -A]``: ReplicationJobs with the columns that matter in a
  migration, RequestIds and error codes included.
- ``kubectl smc retry NAME [-n NS]``: ask for a new start request (sets the annotation
  ``smcoperator.io/retry-requested-at`` to now).
- ``kubectl smc explain NAME [-n NS]``: the ``Started`` condition, SMC's error code, what the
  reason means and what to do, from the reasons table (:mod:`smc_operator.reasons`).

kubectl does not pass its own flags to plugins, so ``--namespace``, ``--context`` and
``--kubeconfig`` are the plugin's, with kubectl's meaning; ``KUBECONFIG`` is honoured. Exit
status: 0, 1 when the API server refused or the object does not exist, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from smc_operator import model
from smc_operator.conditions import STARTED, format_time
from smc_operator.reasons import REASONS, known

EXIT_ERROR = 1
EXIT_USAGE = 2

COLUMNS = (
    "NAMESPACE",
    "NAME",
    "JOB ID",
    "STARTED",
    "REASON",
    "JOB STATUS",
    "PROGRESS",
    "ATTEMPTS",
    "ERROR CODE",
    "REQUEST ID",
)


class PluginError(Exception):
    """What to tell the user (one line) before exiting 1."""


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = _parser().parse_args(argv)
    try:
        api, namespace = _connect(args)
        if args.command == "get":
            return _get(api, namespace, args, out)
        if args.command == "retry":
            return _retry(api, namespace, args.name, out)
        return _explain(api, namespace, args.name, out)
    except PluginError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-n", "--namespace", help="the namespace (default: the context's)")
    common.add_argument("--context", help="the kubeconfig context to use")
    common.add_argument("--kubeconfig", help="the kubeconfig file (default: $KUBECONFIG)")
    parser = argparse.ArgumentParser(
        prog="kubectl smc", description="Work with smc-operator's ReplicationJobs."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    get = commands.add_parser(
        "get", parents=[common], help="list ReplicationJobs with RequestIds and error codes"
    )
    get.add_argument("name", nargs="?", help="one ReplicationJob")
    get.add_argument("-A", "--all-namespaces", action="store_true", help="in every namespace")
    retry = commands.add_parser(
        "retry", parents=[common], help="ask for a new start request (the retry annotation)"
    )
    retry.add_argument("name")
    explain = commands.add_parser(
        "explain", parents=[common], help="what the Started condition means and what to do"
    )
    explain.add_argument("name")
    return parser


def _connect(args: argparse.Namespace) -> tuple[Any, str]:
    from kubernetes import client, config  # slow to import; only the plugin needs it here

    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=args.kubeconfig, context=args.context
        )
        _contexts, current = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=args.kubeconfig
        )
    except (config.ConfigException, OSError) as exc:
        raise PluginError(f"cannot load the kubeconfig: {exc}") from None
    namespace = args.namespace
    if namespace is None:
        context = current
        if args.context is not None:
            context = next((c for c in _contexts if c["name"] == args.context), current)
        namespace = (context or {}).get("context", {}).get("namespace") or "default"
    return client.CustomObjectsApi(), namespace


def _call(function: Any, *args: Any, **kwargs: Any) -> Any:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        return function(model.GROUP, model.VERSION, *args, **kwargs)
    except ApiException as exc:
        if exc.status == 404:
            raise PluginError("not found: " + _object_name(args)) from None
        raise PluginError(f"the API server answered {exc.status} {exc.reason}") from None
    except (HTTPError, OSError) as exc:  # refused, unresolvable, TLS: urllib3 after its retries
        reason = getattr(exc, "reason", None) or exc
        raise PluginError(f"cannot reach the API server: {reason}") from None


def _object_name(args: Sequence[Any]) -> str:
    parts = [str(a) for a in args if a != model.PLURAL]
    return f"replicationjob {'/'.join(parts)}"


def _get(api: Any, namespace: str, args: argparse.Namespace, out: TextIO) -> int:
    if args.name is not None:
        items = [_call(api.get_namespaced_custom_object, namespace, model.PLURAL, args.name)]
    elif args.all_namespaces:
        items = _call(api.list_cluster_custom_object, model.PLURAL)["items"]
    else:
        items = _call(api.list_namespaced_custom_object, namespace, model.PLURAL)["items"]
    if not items:
        where = "any namespace" if args.all_namespaces else f"namespace {namespace}"
        print(f"No ReplicationJobs in {where}.", file=out)
        return 0
    rows = [COLUMNS, *(_row(obj) for obj in sorted(items, key=_key))]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        print(
            "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(),
            file=out,
        )
    return 0


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


def _started(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == STARTED:
            return dict(condition)
    return {}


def _row(obj: Mapping[str, Any]) -> tuple[str, ...]:
    condition = _started(obj)
    status = obj.get("status") or {}
    job = status.get("job") or {}
    progress = job.get("progress")
    return (
        *_key(obj),
        str((obj.get("spec") or {}).get("jobId") or ""),
        str(condition.get("status") or ""),
        str(condition.get("reason") or ""),
        str(job.get("status") or ""),
        f"{progress:g}%" if isinstance(progress, int | float) else "",
        str(status.get("attempts", "")),
        str(condition.get("errorCode") or ""),
        str(condition.get("requestId") or ""),
    )


def _retry(api: Any, namespace: str, name: str, out: TextIO) -> int:
    now = format_time(datetime.now(UTC))
    body = {"metadata": {"annotations": {model.RETRY_ANNOTATION: now}}}
    _call(api.patch_namespaced_custom_object, namespace, model.PLURAL, name, body)
    print(
        f"replicationjob {namespace}/{name}: retry requested ({model.RETRY_ANNOTATION}={now})",
        file=out,
    )
    return 0


def _explain(api: Any, namespace: str, name: str, out: TextIO) -> int:
    obj = _call(api.get_namespaced_custom_object, namespace, model.PLURAL, name)
    condition = _started(obj)
    print(
        f"ReplicationJob {namespace}/{name} (SMC job {(obj.get('spec') or {}).get('jobId')})",
        file=out,
    )
    reason = known(condition.get("reason"))
    if not condition or reason is None:
        print("The operator has not reported on it yet: is smc-operator running?", file=out)
        return 0
    row = REASONS[reason]
    print(f"Started: {condition.get('status')} ({reason.value})", file=out)
    print(f"Message: {condition.get('message', '')}", file=out)
    if condition.get("errorCode"):
        print(f"SMC error code: {condition['errorCode']}", file=out)
    if condition.get("requestId"):
        print(f"RequestId: {condition['requestId']} (quote it to Alibaba Cloud support)", file=out)
    print(f"What it means: {_plain(row.meaning)}", file=out)
    if row.remedy:
        print(f"What to do: {_plain(row.remedy)}", file=out)
    if row.failed:
        print(f"Then: kubectl smc retry {name} -n {namespace}", file=out)
    return 0


def _plain(text: str) -> str:
    """The table's Markdown as terminal text."""
    return text.replace("`", "")


if __name__ == "__main__":
    sys.exit(main())
