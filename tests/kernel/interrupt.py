"""Interrupting the tunebook kernel while a cell awaits a training run, as the notebook's stop
button does (SIGINT): the cell must answer at once, the run must stop at a step boundary, and the
next cells must see the stopped run, evaluate and train on. Then interrupts a cell awaiting a
promise that never settles, by an interrupt_request message this time. Prints one JSON line.

Run by tests/kernel-jupyter.test.ts: python3 tests/kernel/interrupt.py BASE_MODEL TRAIN_JSONL
"""
import json
import sys
import time

from jupyter_client.manager import start_new_kernel

BASE, DATA = sys.argv[1], sys.argv[2]


def run_cell(kc, code, timeout=180, interrupt_after=None, interrupt=None):
    """Executes code; returns (reply content, stdout text, seconds from interrupt to reply)."""
    msg_id = kc.execute(code)
    latency = None
    if interrupt_after is not None:
        time.sleep(interrupt_after)
        sent = time.monotonic()
        interrupt()
    while True:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    if interrupt_after is not None:
        latency = time.monotonic() - sent
    stdout = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            stdout.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    return reply["content"], "".join(stdout), latency


def main():
    km, kc = start_new_kernel(kernel_name="tunebook", startup_timeout=120)
    found = {}
    try:
        setup = f"""
import {{ Session, loadRecords }} from "tunebook";
const session = await Session.open({{ baseModel: {json.dumps(BASE)} }});
const records = loadRecords({json.dumps(DATA)}).filter((_, i) => i % 50 === 0);
session.loadData({{ train: records, validationFraction: 0.1 }});
session.tokenize({{ maxLength: 48 }});
"""
        reply, _, _ = run_cell(kc, setup)
        found["setup"] = reply["status"]

        # A long run, awaited: interrupted after a few seconds of training.
        long_run = "const run = session.train({ epochs: 50, batchSize: 8 });\nawait run;"
        reply, _, latency = run_cell(kc, long_run, interrupt_after=6, interrupt=km.interrupt_kernel)
        found["interrupted_reply"] = reply["status"]
        found["interrupted_ename"] = reply.get("ename")
        found["interrupt_latency_s"] = round(latency, 3)

        after = """console.log(JSON.stringify({
  status: run.status, step: run.step, total: run.totalSteps,
  actions: run.changes.map((c) => c.action),
  lastHistory: session.history.at(-1)?.action,
}));"""
        reply, out, _ = run_cell(kc, after)
        found["after"] = json.loads(out)

        # Still steps after the cell returned? The run must have stopped for good.
        time.sleep(1.5)
        reply, out, _ = run_cell(kc, "console.log(JSON.stringify({ step: run.step }))")
        found["step_later"] = json.loads(out)["step"]

        go_on = """const more = session.train({ maxSteps: 3, batchSize: 8 });
await more;
const report = await session.evaluate({ limit: 4, maxNewTokens: 4 });
console.log(JSON.stringify({ status: more.status, steps: more.step, evaluated: report.n }));"""
        reply, out, _ = run_cell(kc, go_on)
        found["resumed"] = json.loads(out)

        # A cell awaiting something that is not a run is let go of too; this time the interrupt
        # comes as a message on the control channel (interrupt_mode "message").
        def by_message():
            kc.control_channel.send(kc.session.msg("interrupt_request", {}))

        stuck = "await new Promise(() => {});"
        reply, _, latency = run_cell(kc, stuck, interrupt_after=1, interrupt=by_message)
        found["interrupt_reply"] = kc.get_control_msg(timeout=10)["content"]["status"]
        found["stuck_reply"] = reply["status"]
        found["stuck_latency_s"] = round(latency, 3)
        reply, out, _ = run_cell(kc, "console.log(JSON.stringify({ alive: 6 * 7 }))")
        found["alive"] = json.loads(out)["alive"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    print(json.dumps(found))


if __name__ == "__main__":
    main()
