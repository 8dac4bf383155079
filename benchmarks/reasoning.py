"""Held-out arithmetic accuracy (avg@k at T = 1) of the base model, PowerFlow (α = 2, 4), supervised GRPO, the RLIF
rewards (self-certainty, entropy, majority vote) and inference-time power sampling (MH, SMC at α = 4).

Every trained method gets the same model, training prompts, rollouts per prompt, completion budget, learning rate,
LoRA adapter and number of updates. Standard errors are over seeds (each seed retrains and resamples). Compute:
training tokens (completion tokens generated during training) and inference tokens per answer (forward tokens past
the prompt; for MH/SMC everything the sampler ran through the model).

    python benchmarks/reasoning.py --quick     # smoke test, < 5 min on 2 CPU cores
    python benchmarks/reasoning.py             # full, < 60 min on 2 CPU cores
    python benchmarks/reasoning.py --methods 'smc a=4' --merge   # rerun some rows of the full run, keep the others
"""
import argparse, json, time
import numpy as np
from _bench import load, machine, mean_se, json_path, write_json
from powerflow_nb.toy import format_table
from powerflow_nb.data import arithmetic
from powerflow_nb.train import train_latb, LATBConfig
from powerflow_nb.eval import evaluate_reasoning, evaluate_power_sampler
from powerflow_nb.baselines import run_grpo_baseline

METHODS = ['base', 'powerflow a=2', 'powerflow a=4', 'grpo correctness', 'rlif self_certainty', 'rlif entropy',
           'rlif majority', 'mh a=4', 'smc a=4']

def run_method(name, a, seed, train, evalset):
    "Train (when needed) and evaluate one method with one seed: the evaluation dict plus training tokens."
    ev = dict(k=a.k, max_new_tokens=a.max_new_tokens, seed=1000 + seed)
    if name == 'base' or name.startswith(('mh', 'smc')):
        m, t = load(a.model)
        if name == 'base': return dict(evaluate_reasoning(m, t, evalset, **ev), train_tokens=0)
        method = name.split()[0]
        budget = a.mh_budget if method == 'mh' else a.smc_particles
        kw = dict(block_size=a.mh_block) if method == 'mh' else {}
        return dict(evaluate_power_sampler(m, t, evalset, alpha=4.0, method=method, budget=budget, **ev, **kw), train_tokens=0)
    common = dict(steps=a.steps, max_new_tokens=a.max_new_tokens, lr=a.lr)
    if name.startswith('powerflow'):
        alpha = float(name.split('=')[1])
        m, t = load(a.model)
        cfg = LATBConfig(**common, prompts_per_step=a.prompts_per_step, n_rollouts=a.n_rollouts, seed=seed, logz_lr=2e-2,
                         micro_batch=8, format_penalty=-0.5, progress=False, tensorboard=False)
        r = train_latb(m, train, alpha, cfg, tokenizer=t)
        tokens = int(sum(h['length'] * a.prompts_per_step * a.n_rollouts for h in r.history))
        return dict(evaluate_reasoning(r.model, r.tokenizer, evalset, **ev), train_tokens=tokens)
    r = run_grpo_baseline(load(a.model), train, reward=name.split()[1], steps=a.steps, num_generations=a.n_rollouts,
                          max_completion_length=a.max_new_tokens, lr=a.lr, prompts_per_step=a.prompts_per_step, micro_batch=8, seed=seed)
    return dict(evaluate_reasoning(r.model, r.tokenizer, evalset, **ev), train_tokens=r.train_tokens)

def _earlier(a, ap)->dict:
    "The full run that `--merge` updates; refuses one made with other sizes."
    p = json_path(__file__, '_quick' if a.quick else '')
    if not p.exists(): ap.error(f'--merge: no earlier run at {p}')
    old = json.loads(p.read_text())
    skip = ('methods', 'merge')
    mine, theirs = ({k: v for k, v in d.items() if k not in skip} for d in (vars(a), old['args']))
    if mine != theirs: ap.error(f'--merge: the earlier run used other settings: {theirs} vs {mine}')
    return old

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='smoke-test sizes')
    ap.add_argument('--model', default='smollm2-135m', help="model name for load_lm, or 'tiny'")
    ap.add_argument('--methods', nargs='*', default=METHODS, help=f'subset of {METHODS}')
    for k in ('seeds', 'steps', 'prompts_per_step', 'n_rollouts', 'max_new_tokens', 'n_eval', 'k', 'mh_budget', 'mh_block', 'smc_particles'):
        ap.add_argument('--' + k.replace('_', '-'), type=int)
    ap.add_argument('--lr', type=float, default=5e-4, help='learning rate of every trained method')
    ap.add_argument('--merge', action='store_true', help="rerun only --methods and replace their rows in the existing JSON (same sizes)")
    a = ap.parse_args(argv)
    d = (dict(seeds=1, steps=1, prompts_per_step=1, n_rollouts=2, max_new_tokens=12, n_eval=2, k=2, mh_budget=1, mh_block=6, smc_particles=2) if a.quick else
         dict(seeds=2, steps=6, prompts_per_step=2, n_rollouts=4, max_new_tokens=48, n_eval=16, k=4, mh_budget=2, mh_block=16, smc_particles=4))
    for k, v in d.items():
        if getattr(a, k) is None: setattr(a, k, v)
    if bad := [m for m in a.methods if m not in METHODS]: ap.error(f'--methods must be among {METHODS}, got {bad}')
    old = _earlier(a, ap) if a.merge else None
    train = arithmetic('train', n=a.steps * a.prompts_per_step, levels=(1, 2))
    evalset = arithmetic('eval', n=a.n_eval, levels=(1, 2))
    t0, raw, rows = time.time(), {}, {}
    for name in a.methods:
        raw[name] = []
        for seed in range(a.seeds):
            t1 = time.time()
            r = run_method(name, a, seed, train, evalset)
            r['seconds'] = time.time() - t1
            raw[name].append(r)
            print(f"{name} seed {seed}: avg@{a.k} {r['avg_at_k']:.3f}, length {r['length']['mean']:.1f}, {r['seconds']:.0f}s", flush=True)
        acc, se = mean_se([r['avg_at_k'] for r in raw[name]])
        rows[name] = {f'avg@{a.k}': acc, 'se(seeds)': se, f'pass@{a.k}': float(np.mean([r['pass_at_k'] for r in raw[name]])),
                      'mean_len': float(np.mean([r['length']['mean'] for r in raw[name]])),
                      'train_tok': int(np.mean([r['train_tokens'] for r in raw[name]])),
                      'infer_tok/ans': float(np.mean([r['tokens_per_answer'] for r in raw[name]])),
                      'seconds': float(np.mean([r['seconds'] for r in raw[name]]))}
    invocations = [dict(methods=a.methods, wall_s=time.time() - t0)]
    if old:  # keep the earlier run's other rows, in the usual order
        rows, raw = ({m: d[m] for m in METHODS if m in d} for d in ({**old['table'], **rows}, {**old['runs'], **raw}))
        invocations = old.get('invocations', [dict(methods=old['args']['methods'], wall_s=old['wall_s'])]) + invocations
    print(format_table(rows, '{:.4g}'))
    print(f"held-out arithmetic (levels 1-2), {a.n_eval} prompts x {a.k} samples at T=1, {a.seeds} seed(s); "
          f"training: {a.steps} updates x {a.prompts_per_step} prompts x {a.n_rollouts} rollouts, <= {a.max_new_tokens} tokens")
    for r in raw.values():
        for x in r: x['texts'] = x['texts'][:8]
    res = dict(args={**vars(a), 'methods': list(rows)}, machine=machine(), table=rows, runs=raw, wall_s=sum(r['wall_s'] for r in invocations), invocations=invocations)
    print('wrote', write_json(__file__, res, '_quick' if a.quick else ''))
    return res

if __name__ == '__main__': main()
