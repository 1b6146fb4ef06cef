"""Tables and the correctness check for bench/peer_bench.py's records (one dict per JSON line)."""
import math

TOL = 1e-5  # the project's end-to-end tolerance (max relative difference)


def fmt(v, digits=3):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1e-2 or abs(v) >= 1e4 else f"{v:.{digits}f}".rstrip(
            "0").rstrip(".")
    return str(v)


def short(msg, n=160):
    line = msg.strip().splitlines()[0] if msg.strip() else msg
    return (line[:n] + "…" if len(line) > n else line).replace("|", "\\|")


def within(v):
    """True when v is a number no larger than TOL: NaN, inf and None are not."""
    return isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)) and v <= TOL


def cell(result, key="ms"):
    return f"failed: {short(result['error'])}" if "error" in result else fmt(result[key], 4)


def split_table(records):
    rows = ["| model | split | peer pipeline() ms | ppc --split ms | ppc --stages N ms |",
            "|---|---|---|---|---|"]
    for r in records:
        if r["bench"] == "split":
            rows.append(f"| {r['model']} | `{r['split']}` | {cell(r['peer_pipeline'])} | "
                        f"{cell(r['ppc_split'])} | {cell(r['ppc_stages_cost_model'])} |")
    return "\n".join(rows)


def correctness_table(records):
    rows = ["| model | side | inference output max rel diff | training grads max rel diff "
            "(worst parameter) | grads missing |", "|---|---|---|---|---|"]
    seen = {}
    for r in records:
        if r["bench"] != "run" or r["transport"] == "threads":
            continue
        side = "peer" if r["side"] == "peer" else f"ppc ({r['transport']})"
        row = seen.setdefault((r["model"], side), {"model": r["model"], "side": side})
        if "error" in r and "out" not in row and not r["train"]:
            row["out"] = f"failed: {short(r['error'])}"
        if "error" in r and "grad" not in row and r["train"]:
            row["grad"] = f"failed: {short(r['error'])}"
        if "output_max_rel_diff" in r:
            row["out"] = fmt(r["output_max_rel_diff"])
        if "grad_max_rel_diff" in r:
            row["grad"] = f"{fmt(r['grad_max_rel_diff'])} ({r['grad_worst']})"
            row["missing"] = ", ".join(r["grads_missing"]) or "none"
    for row in seen.values():
        rows.append(f"| {row['model']} | {row['side']} | {row.get('out', '-')} | "
                    f"{row.get('grad', '-')} | {row.get('missing', '-')} |")
    return "\n".join(rows)


def run_table(records):
    """One row per model, mode and M: the peer, then pprun's transports, with step time over
    the peer's (below 1: ppc is faster)."""
    names = []
    for r in records:
        if r["bench"] == "run" and r["side"] == "ppc" and r["transport"] not in names:
            names.append(r["transport"])
    procs = [t for t in names if t != "threads"]
    rows = ["| model | mode | M | peer step ms | " + " | ".join(f"ppc {t} step ms" for t in names) +
            " | " + " | ".join(f"ppc {t} / peer" for t in procs) +
            " | peer samples/s | " + " | ".join(f"ppc {t} samples/s" for t in procs) +
            " | peak RSS MB per rank: peer; " + "; ".join(f"ppc {t}" for t in names) + " |",
            "|" + "---|" * (4 + len(names) + 2 * len(procs) + 2)]
    groups = {}
    for r in records:
        if r["bench"] == "run":
            key = (r["model"], "train" if r["train"] else "infer", r["microbatches"])
            groups.setdefault(key, {})["peer" if r["side"] == "peer" else r["transport"]] = r

    def ok(r):
        return r is not None and "error" not in r

    for (model, mode, m), g in groups.items():
        peer = g.get("peer")
        steps = [cell(g[t], "step_ms") if t in g else "-" for t in ["peer"] + names]
        ratios = [fmt(g[t]["step_ms"] / peer["step_ms"]) if ok(peer) and ok(g.get(t)) else "-"
                  for t in procs]
        sps = [fmt(g[t]["samples_per_s"], 4) if ok(g.get(t)) else "-" for t in ["peer"] + procs]
        rss = "; ".join("/".join(fmt(x, 4) for x in (g.get(t) or {}).get("peak_rss_mb") or [])
                        or "-" for t in ["peer"] + names)
        rows.append(f"| {model} | {mode} | {m} | " + " | ".join(steps + ratios + sps) +
                    f" | {rss} |")
    return "\n".join(rows)


def markdown(records):
    setup = records[0]
    head = (f"torch {setup['torch']}, transformers {setup.get('transformers')}, device {setup['device']}, backend {setup['backend']}, "
            f"schedule {setup['schedule']}, {setup['steps']} steps a run (first is warm-up), "
            f"{setup['threads_per_rank']} intra-op thread per rank, {setup['cores']} cores; "
            f"command: `{setup['command']}`\n")
    return "\n\n".join([head, "### Splitting\n\n" + split_table(records),
                        "### Correctness against the unpartitioned model\n\n" +
                        correctness_table(records),
                        "### Throughput\n\n" + run_table(records)]) + "\n"


def check(records):
    """Non-zero when any ppc run failed or a ppc figure differs from the model beyond TOL."""
    bad = []
    for r in records:
        if r["bench"] == "split" and "error" in r["ppc_split"] and "stock" not in r["model"]:
            bad.append(f"{r['model']}: ppc --split failed")
        if r["bench"] != "run" or r["side"] != "ppc" or "stock" in r["model"]:
            continue
        if "error" in r:
            bad.append(f"{r['model']} M={r['microbatches']}: {short(r['error'])}")
        for key in ("output_max_rel_diff", "grad_max_rel_diff"):
            if key in r and not within(r[key]):
                bad.append(f"{r['model']}: {key} {r[key]}")
        if r.get("grads_missing"):
            bad.append(f"{r['model']}: grads missing {r['grads_missing']}")
    for b in bad:
        print("peer_bench: " + b)
    return 1 if bad else 0
