"""Sample the CPU seconds of every Spark and PySpark process on this machine, 10 times a second.

Writes JSON lines to argv[1] until SIGTERM/SIGINT: {"t": epoch s, "sys": [user, system, idle,
steal] of the machine, "p": [[pid, cpu s], ...]}, and for each process seen the first time a line
{"new": pid, "ppid": .., "create": epoch s, "kind": .., "host": ..}. Kinds: executor, worker,
master, driver (JVMs, by main class), daemon (pyspark.daemon started by an executor), pyworker
(a process forked from a daemon), driver-py, other-py. One sample costs a few ms of one core.
"""
import json, signal, sys, time
import psutil

out = open(sys.argv[1], "w")
stop = False
def _stop(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, _stop); signal.signal(signal.SIGINT, _stop)
kinds, procs, me = {}, {}, psutil.Process().pid

def kind_of(p):
    try:
        cmd = p.cmdline(); name = p.name()
    except psutil.Error:
        return None, None
    joined = " ".join(cmd)
    host = None
    if "--hostname" in cmd:
        host = cmd[cmd.index("--hostname") + 1]
    if "java" in name or (cmd and cmd[0].endswith("java")):
        for key, k in (("CoarseGrainedExecutorBackend", "executor"), ("deploy.worker.Worker", "worker"),
                       ("deploy.master.Master", "master"), ("SparkSubmit", "driver")):
            if key in joined:
                return k, host
        return "other-java", host
    if "python" in name or (cmd and "python" in cmd[0]):
        if "pyspark.daemon" in joined:
            try:
                parent = kinds.get(p.ppid(), (None,))[0]
            except psutil.Error:
                parent = None
            return ("pyworker" if parent == "daemon" else "daemon"), None
        if "real/job.py" in joined or "sparkdelay.real.job" in joined or "real.job" in joined:
            return "driver-py", None
        return "other-py", None
    return None, None

while not stop:
    t = time.time()
    ct = psutil.cpu_times()
    row = []
    for p in psutil.process_iter(["pid"]):
        pid = p.info["pid"]
        if pid == me:
            continue
        if pid not in kinds:
            k, host = kind_of(p)
            kinds[pid] = (k, host)
            if k is None:
                continue
            try:
                out.write(json.dumps({"new": pid, "ppid": p.ppid(), "create": p.create_time(), "kind": k, "host": host}) + "\n")
            except psutil.Error:
                continue
            procs[pid] = p
        if kinds[pid][0] is None:
            continue
        try:
            c = procs[pid].cpu_times()
            row.append([pid, round(c.user + c.system, 3)])
        except (psutil.Error, KeyError):
            pass
    out.write(json.dumps({"t": round(t, 3), "sys": [ct.user, ct.system, ct.idle, getattr(ct, "steal", 0.0)], "p": row}) + "\n")
    out.flush()
    time.sleep(max(0.0, 0.1 - (time.time() - t)))
out.close()
