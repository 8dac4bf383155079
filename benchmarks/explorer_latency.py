"""Latency of the α explorer on a real LM (issue 14): seconds to the first newly computed column and to all columns.

    python benchmarks/explorer_latency.py                  # SmolLM2-135M, default methods, 4 samples × 48 tokens, budget 8
    python benchmarks/explorer_latency.py --model tiny     # smoke test on the random tiny LM
    python benchmarks/explorer_latency.py --max-new-tokens 32   # issue 15's target: 4 × 32 tokens (explorer_latency_4x32.json)

Drives `AlphaExplorer` from code (no browser), as a user would: the first request at α = 1, then α moves
(2 → 4 → 0.5 → 1 → 4 again), then ticking MH at α = 4. For each step it records the wall time until the first
column that had to be computed (not served from the cache) was published, until every column was, which draws were
computed, and the decoder's forward passes. Prints a table and writes explorer_latency.json next to this script.
Run it on an otherwise idle machine: it records whether another benchmark process was running (`quiet`).
"""
import argparse, subprocess, time
from _bench import machine, write_json

def busy_benchmarks()->list:
    "Other benchmark processes running now (their CPU use would make the timings meaningless)."
    out = subprocess.run(['pgrep', '-af', 'reasoning.py|amortisation.py|creativity.py|throughput.py'], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if 'pgrep' not in l]

def step(ex, name:str, change)->dict:
    "Apply `change(ex)`, re-sample, wait; seconds to the first computed column and to all columns."
    be, first, n0, f0 = ex.backend, [], len(ex.backend.computed), ex.backend.forward_passes
    publish = ex._publish
    def timed(req, *a, results=None, **kw):
        if results and any('cached' not in r.note for r in results.values()) and not first: first.append(time.perf_counter())
        return publish(req, *a, results=results, **kw)
    ex._publish = timed
    try:
        change(ex)
        t0 = time.perf_counter()
        ex.resample(wait=True, timeout=1800)
        t1 = time.perf_counter()
    finally: del ex._publish
    assert ex.error is None, ex.error
    return dict(step=name, alpha=ex.alpha, methods=list(ex.methods), first_new_s=(first[0] - t0) if first else None, all_s=t1 - t0,
                computed=[k[0] for k in be.computed[n0:]], forward_passes=be.forward_passes - f0,
                column_s={m: round(r.seconds, 2) for m, r in ex.results.items()})

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model', default='smollm2-135m', help="model name for load_lm, or 'tiny'")
    ap.add_argument('--n', type=int, default=4)
    ap.add_argument('--max-new-tokens', type=int, default=48)
    ap.add_argument('--budget', type=int, default=8)
    ap.add_argument('--prompt', type=int, default=0, help='index into the default prompt list')
    args = ap.parse_args()
    from powerflow_nb.widgets import AlphaExplorer
    from powerflow_nb.models import tiny_lm
    model = tiny_lm(seed=0) if args.model == 'tiny' else args.model
    others = busy_benchmarks()
    t = time.perf_counter()
    ex = AlphaExplorer(model, n=args.n, max_new_tokens=args.max_new_tokens, budget=args.budget, auto=False)
    load_s = time.perf_counter() - t
    ex.prompt = args.prompt
    steps = [('first request, α = 1', lambda e: None)]
    steps += [(f'α → {a:g}', lambda e, a=a: setattr(e, 'alpha', a)) for a in (2.0, 4.0, 0.5, 1.0, 4.0)]
    steps += [('tick MH', lambda e: setattr(e, 'methods', [*e.methods, 'mh']))]
    rows = [step(ex, name, change) for name, change in steps]
    ex.close()
    others += busy_benchmarks()
    print(f"\n{args.model}: {args.n} samples × {args.max_new_tokens} tokens, budget {args.budget}, load {load_s:.1f} s, "
          f"quiet machine: {not others}")
    print(f"{'step':<24}{'first new col (s)':>18}{'all cols (s)':>14}{'fwd passes':>12}  computed (s per column)")
    for r in rows:
        fn = '-' if r['first_new_s'] is None else f"{r['first_new_s']:.2f}"
        cols = ', '.join(f"{m} {r['column_s'][m]:.1f}" for m in r['column_s'] if m in r['computed']) or '(all cached)'
        print(f"{r['step']:<24}{fn:>18}{r['all_s']:>14.2f}{r['forward_passes']:>12}  {cols}")
    out = write_json(__file__, dict(settings=vars(args), machine=machine(), quiet=not others, other_benchmarks=others,
                                    load_s=load_s, steps=rows),
                     suffix=('' if args.model != 'tiny' else '_tiny') + ('' if (args.n, args.max_new_tokens) == (4, 48) else f'_{args.n}x{args.max_new_tokens}'))
    print(f"wrote {out}")

if __name__ == '__main__': main()
