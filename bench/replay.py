"""Replays a schedule's action lists with given action times and free transfers.

What a schedule could reach with these per-stage F, B, I and W times if nothing else cost time
(no transfer latency, no contention, no noise): the reference for a measured bubble. Each rank
runs its list in order; an action starts when its rank is free and its inputs exist: F(s, m)
needs F(s-1, m), the backward of (s, m) needs F(s, m) and the input gradient of (s+1, m), and W
needs I of the same stage and microbatch.
"""
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


def replay(lists, per_stage):
    """(span ms, bubble) of `lists` with the report's per-stage times `per_stage`."""
    cost = {(s["stage"], k): s[field] for s in per_stage for k, field in KINDS.items()}
    last_stage = max(s["stage"] for s in per_stage)
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
            stage, kind, mb = actions[pos[r]]
            at = ready(stage, kind, mb)
            if at is None:
                continue
            done[(stage, kind, mb)] = max(at, free[r]) + cost[(stage, kind)]
            free[r] = done[(stage, kind, mb)]
            pos[r] += 1
            progressed = True
        if not progressed:
            raise ValueError("the action lists deadlock")
    span = max(free)
    busy = sum(cost[(s, k)] for actions in lists for s, k, _ in actions)
    return span, 1 - busy / (len(lists) * span)
