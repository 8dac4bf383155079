"""Reasoning micro-benchmark: SmolLM2-135M + LoRA, LA-TB at α = 4 on the shipped arithmetic train split;
held-out accuracy (avg@k at T = 1) and mean length before/after, standard errors over seeds; per seed the learned
log Z′'s mean |residual| (nats/token) over the updates after the first 4, the rollout length against the first update's,
and the share of completions cut at the budget.

    python benchmarks/reasoning_micro.py            # full: 3 seeds x 24 updates (about 35 min on 2 CPU cores)
    python benchmarks/reasoning_micro.py --quick    # smoke test
"""
import argparse, time
from _bench import load, machine, mean_se, write_json
from powerflow_nb.toy import format_table
from powerflow_nb.data import arithmetic
from powerflow_nb.train import LATBConfig, train_latb
from powerflow_nb.eval import evaluate_reasoning

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true'); ap.add_argument('--model', default='smollm2-135m')
    ap.add_argument('--alpha', type=float, default=4.0); ap.add_argument('--seeds', type=int, nargs='+')
    ap.add_argument('--steps', type=int); ap.add_argument('--n-eval', type=int); ap.add_argument('--k', type=int)
    ap.add_argument('--max-new-tokens', type=int, default=32); ap.add_argument('--lr', type=float, default=5e-4); ap.add_argument('--levels', type=int, nargs='+', default=[1, 2])
    ap.add_argument('--truncation', default='mask', choices=['mask', 'keep']); ap.add_argument('--logz-mode', default='group', choices=['group', 'learned'])
    a = ap.parse_args()
    seeds = a.seeds or ([0] if a.quick else [0, 1, 2])
    steps, n_eval, k = a.steps or (2 if a.quick else 24), a.n_eval or (4 if a.quick else 32), a.k or (2 if a.quick else 4)
    evals = arithmetic('eval', n=n_eval, levels=tuple(a.levels))
    t0, runs = time.perf_counter(), []
    for seed in seeds:
        model, tok = load(a.model)
        ev = lambda m: evaluate_reasoning(m, tok, evals, k=k, max_new_tokens=a.max_new_tokens, seed=100 + seed, batch_size=16)
        before = ev(model)
        cfg = LATBConfig(steps=steps, prompts_per_step=2, n_rollouts=4, max_new_tokens=a.max_new_tokens, lr=a.lr, logz_lr=2e-2, micro_batch=8, seed=seed, progress=True,
                         truncation=a.truncation, logz_mode=a.logz_mode)
        ts = time.perf_counter()
        res = train_latb(model, arithmetic('train', levels=tuple(a.levels)), a.alpha, cfg, tokenizer=tok)
        train_s = time.perf_counter() - ts
        after = ev(res.model)
        h = res.history
        late = [m['logz_residual'] for m in h[4:]] or [h[-1]['logz_residual']]  # the learned log Z′ (the policy's own is 0 in group mode)
        runs.append(dict(seed=seed, before=before['avg_at_k'], after=after['avg_at_k'], len_before=before['length']['mean'], len_after=after['length']['mean'],
                         train_seconds=train_s, final_logz=h[-1]['logz'], mean_abs_residual_after_4=sum(map(abs, late)) / len(late),
                         max_abs_residual_after_4=max(map(abs, late)), rollout_length=[m['length'] for m in h],
                         truncated_frac=[m['truncated_frac'] for m in h], history=h, samples_after=after['texts'][:4]))
        print(f"seed {seed}: acc {before['avg_at_k']:.3f} -> {after['avg_at_k']:.3f}, length {before['length']['mean']:.1f} -> {after['length']['mean']:.1f}"
              f"; learned log Z′ mean |residual| after update 4: {runs[-1]['mean_abs_residual_after_4']:.3f} (max {runs[-1]['max_abs_residual_after_4']:.3f}); "
              f"rollout length {h[0]['length']:.1f} -> {h[-1]['length']:.1f}; truncated {h[0]['truncated_frac']:.2f} -> {h[-1]['truncated_frac']:.2f}", flush=True)
    rows = {}
    for name, key, lkey in (('base', 'before', 'len_before'), (f'PowerFlow α={a.alpha:g}', 'after', 'len_after')):
        acc, se = mean_se([r[key] for r in runs]); L, Lse = mean_se([r[lkey] for r in runs])
        rows[name] = {'avg@k': acc, 's.e.': se, 'mean |y|': L, '|y| s.e.': Lse}
    ratio = rows[f'PowerFlow α={a.alpha:g}']['mean |y|'] / rows['base']['mean |y|']
    print(f"\nheld-out arithmetic (levels {a.levels}), {n_eval} prompts × k={k}, T=1, {len(seeds)} seed(s), {steps} LA-TB steps each:")
    print(format_table(rows, '{:.4g}', ['avg@k', 's.e.', 'mean |y|', '|y| s.e.']))
    per_seed = ', '.join(f"{r['len_after'] / r['len_before']:.2f}" for r in runs)
    print(f"length ratio after/before: {ratio:.2f} (per seed: {per_seed}); total {time.perf_counter() - t0:.0f}s")
    p = write_json(__file__, dict(args=vars(a), machine=machine(), rows=rows, length_ratio=ratio, runs=runs, seconds=time.perf_counter() - t0), '_quick' if a.quick else ('' if (a.truncation, a.logz_mode) == ('mask', 'group') else f'_{a.truncation}_{a.logz_mode}'))
    print(f"wrote {p}")

if __name__ == '__main__': main()
