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


def side_name(r):
    return r["side"] if r["side"].startswith("peer") else f"ppc ({r['transport']})"


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
            "(worst parameter) | grads missing | tied copies max rel diff after the last step |",
            "|---|---|---|---|---|---|"]
    seen = {}
    for r in records:
        if r["bench"] != "run" or r["transport"] == "threads":
            continue
        side = side_name(r)
        row = seen.setdefault((r["model"], side), {"model": r["model"], "side": side})
        if "tied_copies_max_rel_diff" in r and "tied" not in row:
            row["tied"] = (f"{fmt(r['tied_copies_max_rel_diff'])} "
                           f"({r['tied_copies_after_steps']} steps)")
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
                    f"{row.get('grad', '-')} | {row.get('missing', '-')} | "
                    f"{row.get('tied', '-')} |")
    return "\n".join(rows)


def spread(r):
    return (f"{fmt(r['step_ms_p25'], 4)}–{fmt(r['step_ms_p75'], 4)}",
            f"{fmt(r['step_ms_min'], 4)}–{fmt(r['step_ms_max'], 4)}")


def run_table(records):
    """One row per model, mode, M and side: the median step time over the measured steps with
    its quartiles and range, and the medians' ratio to each peer mode's (below 1: faster)."""
    peers = []
    for r in records:
        if r["bench"] == "run" and r["side"].startswith("peer") and r["side"] not in peers:
            peers.append(r["side"])
    rows = ["| model | mode | M | side | step ms, median | IQR | min–max | steps | " +
            " | ".join(f"/ {p}" for p in peers) + " | samples/s | peak RSS MB per rank |",
            "|" + "---|" * (10 + len(peers))]
    groups = {}
    for r in records:
        if r["bench"] == "run":
            key = (r["model"], "train" if r["train"] else "infer", r["microbatches"])
            groups.setdefault(key, {})[side_name(r)] = r

    def ok(r):
        return r is not None and "error" not in r

    for (model, mode, m), g in groups.items():
        for side, r in g.items():
            if ok(r):
                iqr, rng = spread(r)
                cells = [fmt(r["step_ms"], 4), iqr, rng, str(r["measured_steps"])]
            else:
                cells = [cell(r, "step_ms"), "-", "-", "-"]
            ratios = [fmt(r["step_ms"] / g[p]["step_ms"]) if ok(r) and ok(g.get(p)) else "-"
                      for p in peers]
            sps = fmt(r["samples_per_s"], 4) if ok(r) else "-"
            rss = "/".join(fmt(x, 4) for x in r.get("peak_rss_mb") or [] if x is not None) or "-"
            rows.append(f"| {model} | {mode} | {m} | {side} | " + " | ".join(cells + ratios) +
                        f" | {sps} | {rss} |")
    return "\n".join(rows)


def markdown(records):
    setup = records[0]
    head = (f"torch {setup['torch']}, transformers {setup.get('transformers')}, device {setup['device']}, backend {setup['backend']}, "
            f"schedule {setup['schedule']}, {setup.get('warmup', 1)} warm-up and "
            f"{setup['steps']} measured steps a run, "
            f"{setup['threads_per_rank']} intra-op thread per rank, {setup['cores']} cores; "
            f"command: `{setup['command']}`\n")
    return "\n\n".join([head, "### Splitting\n\n" + split_table(records),
                        "### Correctness against the unpartitioned model\n\n" +
                        correctness_table(records),
                        "### Throughput\n\n" + run_table(records)]) + "\n"


def check(records):
    """Non-zero when any ppc run failed, or a correctness figure of either side (outputs,
    first-step gradients, the peer's tied copies after its last step) is NaN or beyond TOL, or a
    gradient is missing. The peer may fail on a model (its message is the result); the models
    named "stock" are left out. Times are never looked at."""
    bad = []
    for r in records:
        if r["bench"] == "split" and "error" in r["ppc_split"] and "stock" not in r["model"]:
            bad.append(f"{r['model']}: ppc --split failed")
        if r["bench"] != "run" or "stock" in r["model"]:
            continue
        who = f"{r['model']} {side_name(r)} M={r['microbatches']}"
        if "error" in r:
            if r["side"] == "ppc":
                bad.append(f"{who}: {short(r['error'])}")
            continue
        for key in ("output_max_rel_diff", "grad_max_rel_diff", "tied_copies_max_rel_diff"):
            if key in r and not within(r[key]):
                bad.append(f"{who}: {key} {r[key]}")
        if r.get("grads_missing"):
            bad.append(f"{who}: grads missing {r['grads_missing']}")
    for b in bad:
        print("peer_bench: " + b)
    return 1 if bad else 0
