"""py-spy's raw output (collapsed stacks) as tables: where the operator's CPU time goes.

``py-spy record --format raw`` writes one line per distinct stack: ``frame;frame;...;leaf COUNT``,
each frame ``function (file:line)``. Idle samples are not recorded (py-spy's default), so every
sample is CPU time. From that:

- **self**: samples whose leaf is the function (the function itself was running);
- **total**: samples whose stack contains the function (it, or something it called, was running);
- **by package**: self samples grouped by the top-level package (or stdlib module) of the leaf;
- **by area**: total samples whose stack passes through markers of the operator's activities
  (kopf's processing, our handler, the SDK, the Kubernetes client, JSON, pydantic, logging, ...).

``python -m bench.profiles FILE [--top 25]`` prints them.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

_FRAME: Final = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

#: Activities: a sample counts for an area when any frame's file contains the marker (and, if
#: given, the function equals the second element).
AREAS: Final[tuple[tuple[str, str, str | None], ...]] = (
    ("our start handler (handlers.start)", "smc_operator/handlers.py", "start"),
    ("our Starter.attempt (decide + I/O)", "smc_operator/starting.py", "Starter.attempt"),
    ("our kube client (write-ahead PATCH)", "smc_operator/kube.py", None),
    ("our SMC adapter (smc.py)", "smc_operator/smc.py", None),
    ("Alibaba SDK (tea-openapi, credentials, models)", "alibabacloud_", None),
    ("darabonba async_do_action (a new aiohttp session per call)", "darabonba/core.py", None),
    ("kopf indexing (index functions per event)", "kopf/_core/engines/indexing.py", None),
    ("kopf handler processing (processing.py)", "kopf/_core/reactor/processing.py", None),
    ("kopf patching (patch_obj)", "kopf/_cogs/clients/patching.py", None),
    ("kopf event posting (Events)", "kopf/_core/engines/posting.py", None),
    ("kopf API client (all kopf requests)", "kopf/_cogs/clients/api.py", None),
    ("kopf watching (stream parsing)", "kopf/_cogs/clients/watching.py", None),
    ("kopf diffbase/progress storage", "kopf/_cogs/configs/", None),
    ("kopf dict paths (dicts.resolve etc.)", "kopf/_cogs/structs/dicts.py", None),
    ("pydantic (model validate/dump)", "pydantic", None),
    ("json (encode/decode)", "json/", None),
    ("logging", "logging/", None),
    ("aiohttp (client and server)", "aiohttp/", None),
    ("epoll_wait (selectors.select)", "selectors.py", "EpollSelector.select"),
    (
        "socket send (transport.write)",
        "asyncio/selector_events.py",
        "_SelectorSocketTransport.write",
    ),
    (
        "TCP connect (sock_connect)",
        "asyncio/selector_events.py",
        "BaseSelectorEventLoop._sock_connect",
    ),
    ("deepcopy (copy.py)", "copy.py", "deepcopy"),
)


def parse(text: str) -> list[tuple[list[tuple[str, str]], int]]:
    """(stack of (function, file) from root to leaf, samples) per line."""
    stacks: list[tuple[list[tuple[str, str]], int]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        body, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames: list[tuple[str, str]] = []
        for frame in body.split(";"):
            match = _FRAME.match(frame.strip())
            if match is None:
                frames.append((frame.strip(), ""))
            else:
                frames.append((match["function"], match["file"]))
        stacks.append((frames, int(count)))
    return stacks


def package_of(file: str) -> str:
    """``site-packages/kopf/_core/x.py`` -> ``kopf``; stdlib ``asyncio/x.py`` -> ``asyncio``."""
    path = file.replace("\\", "/")
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/smc_operator/" in path or path.startswith("smc_operator/"):
        return "smc_operator"
    match = re.search(r"python3\.\d+/(?P<module>[^/]+)", path)
    if match:
        return "stdlib:" + match["module"].removesuffix(".py")
    head = path.split("/", 1)[0]
    return head.removesuffix(".py") or "?"


def _name(function: str, file: str) -> str:
    short = file.replace("\\", "/")
    for marker in ("site-packages/", "/operator/", "lib/python3."):
        if marker in short:
            short = short.split(marker, 1)[1]
            if marker == "lib/python3.":
                short = short.split("/", 1)[1] if "/" in short else short
            break
    return f"{function} ({short})"


def summarize(text: str, top: int = 25) -> dict[str, Any]:
    stacks = parse(text)
    total_samples = sum(count for _, count in stacks)
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    areas: collections.Counter[str] = collections.Counter()
    for frames, count in stacks:
        if not frames:
            continue
        leaf_function, leaf_file = frames[-1]
        own[_name(leaf_function, leaf_file)] += count
        packages[package_of(leaf_file)] += count
        for name in {_name(function, file) for function, file in frames}:
            inclusive[name] += count
        for area, marker, function_name in AREAS:
            if any(
                marker in file and (function_name is None or function == function_name)
                for function, file in frames
            ):
                areas[area] += count

    def table(counter: collections.Counter[str]) -> list[dict[str, Any]]:
        return [
            {"name": name, "samples": count, "percent": 100.0 * count / max(total_samples, 1)}
            for name, count in counter.most_common(top)
        ]

    return {
        "samples": total_samples,
        "self": table(own),
        "total": table(inclusive),
        "packages": table(packages),
        "areas": [
            {
                "name": area,
                "samples": areas[area],
                "percent": 100.0 * areas[area] / max(total_samples, 1),
            }
            for area, _, _ in sorted(AREAS, key=lambda a: -areas[a[0]])
        ],
    }


def render(
    summary: dict[str, Any], sections: Iterable[str] = ("areas", "packages", "self", "total")
) -> str:
    lines = [f"py-spy samples (CPU only): {summary['samples']}"]
    titles = {
        "areas": "By activity (inclusive; overlapping)",
        "packages": "By package of the running function (self)",
        "self": "Top functions by self time",
        "total": "Top functions by total time (inclusive)",
    }
    for section in sections:
        lines += [
            "",
            f"**{titles[section]}**",
            "",
            "| % | samples | function |",
            "| ---: | ---: | --- |",
        ]
        for row in summary[section]:
            lines.append(f"| {row['percent']:.1f} | {row['samples']} | `{row['name']}` |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profiles")
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    print(render(summarize(args.file.read_text(encoding="utf-8"), top=args.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
