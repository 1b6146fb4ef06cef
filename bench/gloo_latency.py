#!/usr/bin/env python3
"""What one Gloo receive costs when its message was sent long before; prints one JSON line.

usage: bench/gloo_latency.py [--messages 24]    (spawns its own 2 ranks on 127.0.0.1)

Rank 0 sends every message, then both ranks pass a barrier, then rank 1 receives them:
- serial:  one recv at a time, waiting for each (how pprun's Gloo transport receives: a length
           header, then the payload, value after value);
- posted:  every irecv posted first, then all waited for (what torch.distributed.pipelining does
           with batch_isend_irecv, one tensor per value since its shapes are static).
The per-message difference is a cost the pipeline pays per value per microbatch.
Ping-pong (median of 10): a round trip of one message each way, and of two (header + payload,
as pprun sends a value); a jump by ~40 ms is TCP's delayed ACK against Nagle's algorithm.
"""
import argparse
import json
import os
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def rank_main(rank, port, n, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    result = {}
    for mode in ("serial", "posted", "serial", "posted"):  # twice: the first pass warms up
        msgs = [torch.full((64,), float(i)) for i in range(n)]
        if rank == 0:
            works = [dist.isend(m, 1, tag=i) for i, m in enumerate(msgs)]
            dist.barrier()
            for w in works:
                w.wait()
        else:
            dist.barrier()
            time.sleep(0.05)  # every message has arrived
            bufs = [torch.empty(64) for _ in range(n)]
            start = time.perf_counter()
            if mode == "serial":
                for i, b in enumerate(bufs):
                    dist.recv(b, 0, tag=i)
            else:
                for w in [dist.irecv(b, 0, tag=i) for i, b in enumerate(bufs)]:
                    w.wait()
            result[mode + "_us_per_message"] = (time.perf_counter() - start) * 1e6 / n
        dist.barrier()
    # ping-pong: each side sends a value as pprun does (a length header, then the payload) and
    # waits for the other's before answering.
    for parts, key in ((1, "pingpong_one_message_us"), (2, "pingpong_header_then_payload_us")):
        sizes = (1, 64)[2 - parts:]
        times = []
        for it in range(12):
            works = []
            start = time.perf_counter()
            for turn in (0, 1):
                for k, size in enumerate(sizes):
                    tag = 1000 + 10 * it + 2 * turn + k
                    if rank == turn:
                        works.append(dist.isend(torch.ones(size), 1 - rank, tag=tag))
                    else:
                        dist.recv(torch.empty(size), 1 - rank, tag=tag)
            times.append((time.perf_counter() - start) * 1e6)
            for w in works:
                w.wait()
        result[key] = sorted(times[2:])[len(times[2:]) // 2]
    if rank == 1:
        out.put(result)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=24)
    args = ap.parse_args()
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=rank_main, args=(r, port, args.messages, out)) for r in range(2)]
    for p in procs:
        p.start()
    result = out.get(timeout=120)
    for p in procs:
        p.join()
    print(json.dumps(dict(bench="gloo_latency", messages=args.messages,
                          load_average=os.getloadavg()[0], **result)))


if __name__ == "__main__":
    main()
