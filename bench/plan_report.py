#!/usr/bin/env python3
"""bench/README's tables from bench/plan_bench.py's output (one JSON object a line).

usage: build/python3 bench/plan_report.py RESULTS.jsonl [MORE.jsonl ...]
Prints a markdown table per kind of record found (spread, brute, train, memory, recompute) and,
under each, the counts its prose quotes (rows within target). Later files' records of a kind
replace earlier files' records of that kind, so a separate `--only memory` run can stand in for
the full run's memory rows; each table says which file it comes from.
"""
import json
import sys

NAMES = {"resnet50": "ResNet-50", "densenet121": "DenseNet-121", "convnext_tiny": "ConvNeXt-tiny",
         "inception_v3": "Inception-v3", "unet": "U-Net", "gpt2": "GPT-2 12l"}


def ms(xs, digits=1):
    return " / ".join(f"{x:.{digits}f}" for x in xs)


def pct(xs):
    return " / ".join(f"{round(x * 100):+d}" for x in xs) + " %"


def spread(rows):
    print("| model | S | spread | predicted ms | measured ms |\n|---|---|---|---|---|")
    for r in rows:
        mark = "**" if r["spread"] <= r["target"] else ""
        print(f"| {NAMES[r['model']]} | {r['stages']} | {mark}{r['spread']:.3f}{mark} | "
              f"{ms(r['predicted_ms'])} | {ms(r['measured_ms'])} |")
    met = sum(r["spread"] <= r["target"] for r in rows)
    print(f"\nwithin the target {rows[0]['target']}: {met} of {len(rows)} rows")


def brute(rows):
    print("| model | units | chosen / brute | uniform / brute | chosen ms | brute ms |\n"
          "|---|---|---|---|---|---|")
    for r in rows:
        mark = "**" if r["chosen_over_brute"] <= 1.05 else ""
        print(f"| {NAMES[r['model']]} | {r['units']} | {mark}{r['chosen_over_brute']:.3f}{mark} | "
              f"{r['uniform_over_brute']:.3f} | {r['chosen_slowest_ms']:.2f} | "
              f"{r['brute_slowest_ms']:.2f} |")
    met = sum(r["chosen_over_brute"] <= 1.05 for r in rows)
    print(f"\nchosen / brute <= 1.05: {met} of {len(rows)} models")


def train(rows):
    print("| model | S | train-plan step ms | forward-plan step ms | ratio | runs (train; forward) |\n"
          "|---|---|---|---|---|---|")
    for r in rows:
        if r.get("identical"):
            print(f"| {NAMES[r['model']]} | {r['stages']} | same plan | | | |")
            continue
        runs = r["step_ms_runs"]
        mark = "**" if r["train_over_infer"] < 1 else ""
        print(f"| {NAMES[r['model']]} | {r['stages']} | {r['train_plan_step_ms']:.1f} | "
              f"{r['infer_plan_step_ms']:.1f} | {mark}{r['train_over_infer']:.3f}{mark} | "
              f"{ms(runs['train'], 0)}; {ms(runs['infer'], 0)} |")


def memory(rows):
    print("| model | schedule | predicted MB per rank | measured MB (threads) | error | "
          "measured MB (Gloo processes) | error |\n|---|---|---|---|---|---|---|")
    within = total = 0
    for r in rows:
        gloo = r.get("measured_gloo_mb")
        print(f"| {NAMES[r['model']]} | {r['schedule']} | {ms(r['predicted_mb'])} | "
              f"{ms(r['measured_mb'])} | {pct(r['error'])} | "
              f"{ms(gloo) if gloo else '-'} | {pct(r['error_gloo']) if gloo else '-'} |")
        within += sum(abs(e) <= 0.15 for e in r["error"])
        total += len(r["error"])
    print(f"\nthreads: {within} of {total} ranks within 15%")
    if all("error_gloo" in r for r in rows):
        g = sum(abs(e) <= 0.15 for r in rows for e in r["error_gloo"])
        print(f"Gloo processes: {g} of {total} ranks within 15%")


def recompute(rows):
    print("| model | peak MB without | peak MB with | step ms without → with |\n|---|---|---|---|")
    for r in rows:
        print(f"| {NAMES[r['model']]} | {ms(r['peak_mb_none'])} | {ms(r['peak_mb_all'])} | "
              f"{r['step_ms_none']:.1f} → {r['step_ms_all']:.1f} "
              f"({r['step_all_over_none']:.2f}×) |")


def main(paths):
    kinds = {}
    for path in paths:
        found = {}
        for line in open(path):
            r = json.loads(line)
            if "error" in r and not isinstance(r["error"], list):
                print(f"failed: {r}")
                continue
            found.setdefault(r.get("bench"), []).append(r)
        kinds.update({k: (path, v) for k, v in found.items()})
    for kind, show in (("spread", spread), ("brute", brute), ("train", train),
                       ("memory", memory), ("recompute", recompute)):
        if kind in kinds:
            path, rows = kinds[kind]
            print(f"\n### {kind} ({path})\n")
            show(rows)


if __name__ == "__main__":
    main(sys.argv[1:])
