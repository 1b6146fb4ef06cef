"""Replays a schedule's action lists with given action times and free transfers.

What a schedule could reach with these per-stage F, B, I and W times if nothing else cost time
(no transfer latency, no contention, no noise): the reference for a measured bubble. Each rank
runs its list in order; an action starts when its rank is free and its inputs exist: F(s, m)
needs F(s-1, m), the backward of (s, m) needs F(s, m) and the input gradient of (s+1, m), and W
needs I of the same stage and microbatch.

`replay_trace` replays what a run really did instead: each rank's actions in the order it ran
them (W's that filled waits included), each taking its own measured time less the waits for
other ranks' values inside it. Where that replay's span equals the measured one, the runtime
added no idle time of its own: the whole bubble is the schedule's, under those action times.
"""
import json
import re

KINDS = {"F": "forward_ms", "B": "backward_ms", "I": "input_grad_ms", "W": "weight_grad_ms"}


def parse_grid(text):
    """Action lists per rank from `pprun --print-schedule`: [(stage, kind, microbatch)]."""
    ranks = {}
    for line in text.splitlines():
        m = re.match(r"^r(\d+)\s+(.*)$", line)
        if m:
            cells = re.findall(r"(\d+)([FBIW])(\d+)", m.group(2))
            ranks[int(m.group(1))] = [(int(s), k, int(mb)) for s, k, mb in cells]
    return [ranks[r] for r in sorted(ranks)]


def run_lists(lists, cost):
    """(span ms, bubble) of running `lists` with `cost(action)` ms per action."""
    last_stage = max(s for actions in lists for s, _, _ in actions)
    done, free, pos = {}, [0.0] * len(lists), [0] * len(lists)

    def ready(stage, kind, mb):
        needs = []
        if kind == "F" and stage > 0:
            needs.append((stage - 1, "F", mb))
        if kind in "BI":
            needs.append((stage, "F", mb))
            if stage < last_stage:
                upstream = (stage + 1, "B", mb) if (stage + 1, "B", mb) in done else (stage + 1, "I", mb)
                needs.append(upstream)
        if kind == "W":
            needs.append((stage, "I", mb))
        if any(n not in done for n in needs):
            return None
        return max([done[n] for n in needs], default=0.0)

    while any(p < len(a) for p, a in zip(pos, lists)):
        progressed = False
        for r, actions in enumerate(lists):
            if pos[r] == len(actions):
                continue
            action = actions[pos[r]]
            at = ready(*action)
            if at is None:
                continue
            done[action] = max(at, free[r]) + cost(action)
            free[r] = done[action]
            pos[r] += 1
            progressed = True
        if not progressed:
            raise ValueError("the action lists deadlock")
    span = max(free)
    busy = sum(cost(a) for actions in lists for a in actions)
    return span, 1 - busy / (len(lists) * span)


def replay(lists, per_stage):
    """(span ms, bubble) of `lists` with the report's per-stage times `per_stage`."""
    cost = {(s["stage"], k): s[field] for s in per_stage for k, field in KINDS.items()}
    return run_lists(lists, lambda a: cost[(a[0], a[1])])


def replay_trace(path):
    """Per measured step of a `pprun --trace` file: (measured span ms, measured bubble, replay
    span ms, replay bubble), the replay running each rank's actions in the order they ran, each
    with its own time less the waits for values inside it."""
    events = json.load(open(path))
    events = events["traceEvents"] if isinstance(events, dict) else events
    actions = [e for e in events if e.get("cat") == "action"]
    waits = [e for e in events if e.get("cat") == "transfer"]
    out = []
    for step in sorted({e["args"]["step"] for e in actions})[1:]:  # step 0 is warm-up
        ran = [e for e in actions if e["args"]["step"] == step]
        start = min(e["ts"] for e in ran)
        span = (max(e["ts"] + e["dur"] for e in ran) - start) / 1e3
        lists, cost = [], {}
        for rank in sorted({e["tid"] for e in ran}):
            mine = sorted((e for e in ran if e["tid"] == rank), key=lambda e: e["ts"])
            lists.append([])
            for e in mine:
                s, kind, mb = re.match(r"(\d+)([FBIW])(\d+)", e["name"]).groups()
                waited = sum(w["dur"] for w in waits if w["tid"] == rank and
                             e["ts"] <= w["ts"] and w["ts"] + w["dur"] <= e["ts"] + e["dur"] + 1)
                cost[(int(s), kind, int(mb))] = (e["dur"] - waited) / 1e3
                lists[-1].append((int(s), kind, int(mb)))
        busy = sum(cost.values())
        replay_span, replay_bubble = run_lists(lists, cost.__getitem__)
        out.append((span, 1 - busy / (len(lists) * span), replay_span, replay_bubble))
    return out
