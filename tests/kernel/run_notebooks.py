"""Executes notebooks on the tunebook kernel with nbclient, each in its own folder, and prints one
JSON line per notebook: {"notebook", "seconds", "errors", "slowest"}. A cell that fails, or any
"error" output, is an error. Exit status 1 if any notebook had one.

Run by tests/notebooks.test.ts: python3 tests/kernel/run_notebooks.py NOTEBOOK...
"""
import json
import os
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def run(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="tunebook",
        timeout=240,
        startup_timeout=120,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
    )
    started = time.monotonic()
    errors = []
    try:
        client.execute()
    except CellExecutionError as err:
        errors.append(str(err).strip().splitlines()[-1][:400])
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append(f"cell {i}: {out['ename']}: {out['evalue'][:300]}")
    timings = []
    for i, cell in enumerate(nb.cells):
        t = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in t and "shell.execute_reply" in t:
            timings.append((seconds_between(t["iopub.execute_input"], t["shell.execute_reply"]), i))
    timings.sort(reverse=True)
    return {
        "notebook": os.path.basename(path),
        "seconds": round(time.monotonic() - started, 1),
        "errors": sorted(set(errors)),
        "slowest": [f"cell {i}: {s:.1f}s" for s, i in timings[:3]],
    }


def seconds_between(a, b):
    from datetime import datetime

    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
    return (parse(b) - parse(a)).total_seconds()


def main():
    failed = False
    for path in sys.argv[1:]:
        result = run(path)
        failed = failed or bool(result["errors"])
        print(json.dumps(result), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
