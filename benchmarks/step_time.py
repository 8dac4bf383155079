"""Wall time per update: PowerFlow `train_latb` vs TRL `GRPOTrainer`, same model, prompts, rollouts, lengths and LoRA.

The two trainers alternate in one process (round r: LA-TB then GRPO when r is even, GRPO then LA-TB when odd), so
machine load drifts hit both. Each run's first update is warm-up and dropped. Reported: per round the ratio of median
times LA-TB / GRPO, then min / median / max over rounds.

    python benchmarks/step_time.py --quick     # smoke test, < 5 min on 2 CPU cores
    python benchmarks/step_time.py             # full, < 60 min on 2 CPU cores
    python benchmarks/step_time.py --rounds 1 --steps 3 --dtype bfloat16   # both trainers on bf16 weights (LoRA stays fp32)
"""
import argparse, time
import torch
import numpy as np
from _bench import load, machine, write_json
from powerflow_nb.toy import format_table
from powerflow_nb.data import arithmetic
from powerflow_nb.train import train_latb, LATBConfig
from powerflow_nb.baselines import run_grpo_baseline

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='smoke-test sizes')
    ap.add_argument('--model', default='smollm2-135m', help="model name for load_lm, or 'tiny'")
    ap.add_argument('--rounds', type=int); ap.add_argument('--steps', type=int, help='updates per run (the first is dropped)')
    ap.add_argument('--prompts-per-step', type=int); ap.add_argument('--n-rollouts', type=int); ap.add_argument('--max-new-tokens', type=int)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16'], help='weights of the base model, for both trainers')
    ap.add_argument('--no-json', action='store_true', help='only return the results (throughput.py keeps them in its own JSON)')
    a = ap.parse_args(argv)
    d = dict(rounds=1, steps=2, prompts_per_step=1, n_rollouts=4, max_new_tokens=16) if a.quick else dict(rounds=3, steps=4, prompts_per_step=2, n_rollouts=4, max_new_tokens=64)
    for k, v in d.items():
        if getattr(a, k) is None: setattr(a, k, v)
    prompts = arithmetic('train', n=a.prompts_per_step * a.steps, levels=(1, 2))
    cfg = dict(steps=a.steps, prompts_per_step=a.prompts_per_step, n_rollouts=a.n_rollouts, max_new_tokens=a.max_new_tokens, lr=1e-4)
    times, numerics = {'latb': [], 'grpo': []}, []
    per_round = []
    model = lambda: load(a.model, getattr(torch, a.dtype))
    def run_latb():
        m, t = model()
        r = train_latb(m, prompts, 4.0, LATBConfig(**cfg, micro_batch=8, seed=a.seed, progress=False, tensorboard=False), tokenizer=t)
        numerics.extend({k: h[k] for k in ('clip_frac', 'sampler_gap', 'rollout_seconds', 'seconds')} for h in r.history)  # the IS weight under this dtype; time split
        return [h['seconds'] for h in r.history]
    def run_grpo():
        r = run_grpo_baseline(model(), prompts, reward='correctness', steps=a.steps, num_generations=a.n_rollouts,
                              max_completion_length=a.max_new_tokens, lr=1e-4, prompts_per_step=a.prompts_per_step, micro_batch=8, seed=a.seed)
        return r.step_times
    t0 = time.time()
    for r in range(a.rounds):
        order = [('latb', run_latb), ('grpo', run_grpo)][::1 if r % 2 == 0 else -1]
        rt = {}
        for name, fn in order:
            ts = fn(); ts = ts[1:] if len(ts) > 1 else ts
            rt[name] = ts; times[name] += ts
            print(f'round {r}: {name} seconds/update {[round(x, 2) for x in ts]}', flush=True)
        per_round.append(float(np.median(rt['latb']) / np.median(rt['grpo'])))
    ratio = dict(min=min(per_round), median=float(np.median(per_round)), max=max(per_round))
    rows = {n: dict(median_s=float(np.median(v)), min_s=float(np.min(v)), max_s=float(np.max(v)), updates=len(v)) for n, v in times.items()}
    rows['ratio latb/grpo'] = dict(median_s=ratio['median'], min_s=ratio['min'], max_s=ratio['max'], updates=len(per_round))
    print(format_table(rows, '{:.4g}', ['median_s', 'min_s', 'max_s', 'updates']))
    print(f"(ratio row: min/median/max over {a.rounds} rounds of median LA-TB time / median GRPO time; goal <= 1.10)")
    clip, gap = max(n['clip_frac'] for n in numerics), float(np.mean([n['sampler_gap'] for n in numerics]))
    print(f"LA-TB updates: largest clip fraction {clip:.3f}, mean |log π_θ − log q| per token {gap:.4f} (sampler vs training forward)")
    share = float(np.median([n['rollout_seconds'] / n['seconds'] for n in numerics]))
    print(f"LA-TB time in the rollout (sampling + base scoring): median {share:.0%} of an update")
    res = dict(args=vars(a), machine=machine(), seconds_per_update=times, ratio_per_round=per_round, ratio=ratio,
               latb_numerics=numerics, latb_rollout_share=share, wall_s=time.time() - t0)
    if not a.no_json: print('wrote', write_json(__file__, res, ('_quick' if a.quick else '') + ('' if a.dtype == 'float32' else '_' + a.dtype)))
    return res

if __name__ == '__main__': main()
