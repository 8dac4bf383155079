"""Held-out arithmetic: does PowerFlow (α = 4) beat the untrained model decoded cheaply (T = 1, T = 1/α, greedy), supervised
GRPO, the RLIF rewards (self-certainty, entropy, majority vote) and inference-time power sampling (MH, SMC at α = 4)?

Equal treatment: every trained method gets the same model, training prompts (levels 1-3, no answers except GRPO's
reward), rollouts per update, completion budget, learning rate, LoRA adapter and number of updates; no trained method
gets the format reward ψ except the rows that say so ("powerflow a=4" is the paper's recipe with ψ = -0.5; "powerflow
a=4 psi=0" is the like-for-like row; "powerflow a=4 (TRL)" is the paper's recipe at the same budget trained through TRL,
`powerflow_nb.trl.PowerFlowTrainer`, whose loss is the native trainer's; every PowerFlow row drops completions cut at the
budget from the loss, truncation='mask', as its stored runs did). Every method answers the same held-out
problems (distinct, levels 1-3) k times at T = 1 (trained methods also greedily, once) within the same token budget.
Grading: strict (the last \\boxed{}) and
lenient (also a final-answer phrase or a last "= N" line), through math-verify; a completion cut at the budget counts
only with a closed \\boxed{}. Intervals: 95 % bootstrap over problems and seeds; paired intervals for the differences.
Compute: training tokens (completion tokens generated in training) and inference tokens per answer (forward tokens
past the prompt; for MH/SMC everything the sampler ran through the model).

The run is resumable: every (method, seed) is written to reasoning.json as it finishes and skipped when rerun with the
same settings; all of seed 0 runs first, so an interrupted run still has every method. Tables are regraded from the
stored texts every time (`--report` only regrades).

    python benchmarks/reasoning.py --quick     # smoke test, a few minutes on 2 CPU cores
    python benchmarks/reasoning.py             # full, resumable (measured: a trained (method, seed) about 4.5 min alone on 2 CPU cores, the SMC row 26 min shared, the MH row 25 min partly shared)
    python benchmarks/reasoning.py --report    # tables from what reasoning.json holds
"""
import argparse, time
import numpy as np
from _bench import load, Results
from powerflow_nb.toy import format_table
from powerflow_nb.data import arithmetic, checksum, has_boxed
from powerflow_nb.train import train_latb, LATBConfig
from powerflow_nb.eval import evaluate_reasoning, evaluate_power_sampler, grade, bootstrap_ci, paired_bootstrap_ci

ALPHA = 4.0
DECODING = {'base T=1': 1.0, 'base T=1/4': 1 / ALPHA, 'base greedy': 0.0}
POWER = ('mh a=4', 'smc a=4')
TRAINED = {'powerflow a=4': -0.5, 'powerflow a=4 psi=0': 0.0, 'powerflow a=4 (TRL)': -0.5, 'grpo': 'correctness', 'rlif self_certainty': 'self_certainty',
           'rlif entropy': 'entropy', 'rlif majority': 'majority'}
METHODS = [*DECODING, *POWER, *TRAINED]
TRUNCATION = 'mask'  # every PowerFlow row: the treatment its stored runs were trained with (LATBConfig's default is now 'penalty')
PAIRS = [('powerflow a=4', 'grpo'), ('powerflow a=4 psi=0', 'grpo'), ('powerflow a=4', 'base T=1/4'), ('powerflow a=4', 'smc a=4'),
         ('powerflow a=4', 'base T=1'), ('powerflow a=4', 'powerflow a=4 psi=0'), ('base T=1/4', 'base T=1'), ('smc a=4', 'base T=1/4'),
         ('powerflow a=4 (TRL)', 'powerflow a=4')]
SIZES = dict(full=dict(seeds=3, steps=16, prompts_per_step=2, n_rollouts=4, max_new_tokens=48, n_eval=120, k=4, mh_budget=2, mh_block=16, smc_particles=4, lr=5e-4),
             quick=dict(seeds=1, steps=1, prompts_per_step=1, n_rollouts=2, max_new_tokens=12, n_eval=3, k=2, mh_budget=1, mh_block=6, smc_particles=2, lr=5e-4))

def settings(quick:bool=False, model:str='smollm2-135m', seeds:int|None=None)->dict:
    "The sizes of a run and the checksums of its prompt sets: a results file continues only under the same settings."
    s = dict(SIZES['quick' if quick else 'full'], model=model)
    if seeds: s['seeds'] = seeds
    s['eval_checksum'], s['train_checksum'] = checksum(eval_set(s)), checksum(train_set())
    return s

def eval_set(s:dict)->list: return arithmetic('eval', n=s['n_eval'], levels=(1, 2, 3), distinct=True)
def train_set()->list: return arithmetic('train', levels=(1, 2, 3))

def _slim(report:dict)->dict:
    "What a record keeps of an evaluation: the texts, lengths and EOS flags to regrade, and the cost."
    return {k: report[k] for k in ('texts', 'lengths', 'ended', 'tokens_per_answer')}

def run(name:str, seed:int, s:dict, model:str)->dict:
    "Train (when needed) and evaluate one method with one seed."
    evalset, ev = eval_set(s), dict(max_new_tokens=s['max_new_tokens'], seed=1000 + seed, batch_size=64)
    m, t = load(model)
    if name in DECODING:
        T = DECODING[name]
        return dict(T1=_slim(evaluate_reasoning(m, t, evalset, k=1 if T == 0 else s['k'], temperature=T, **ev)), train_tokens=0)
    if name in POWER:
        method = name.split()[0]
        kw = dict(budget=s['mh_budget'], block_size=s['mh_block']) if method == 'mh' else dict(budget=s['smc_particles'])
        ev.pop('batch_size')
        return dict(T1=_slim(evaluate_power_sampler(m, t, evalset, alpha=ALPHA, method=method, k=s['k'], **kw, **ev)), train_tokens=0)
    t0, kind = time.perf_counter(), TRAINED[name]
    if name.endswith('(TRL)'):  # the same recipe and budget as the native row, through TRL's trainer
        from powerflow_nb.trl import run_powerflow_trl
        r = run_powerflow_trl((m, t), train_set(), ALPHA, steps=s['steps'], num_generations=s['n_rollouts'], max_completion_length=s['max_new_tokens'],
                              lr=s['lr'], logz_lr=2e-2, prompts_per_step=s['prompts_per_step'], micro_batch=8, format_penalty=kind, truncation=TRUNCATION, seed=seed)
        names = dict(length='completions/mean_length', truncated_frac='completions/clipped_ratio', residual='powerflow/residual', loss='loss')
        tokens, extra = int(r.train_tokens), dict(history=[{k: h[v] for k, v in names.items() if v in h} for h in r.history if 'loss' in h])
    elif name.startswith('powerflow'):
        cfg = LATBConfig(steps=s['steps'], prompts_per_step=s['prompts_per_step'], n_rollouts=s['n_rollouts'], max_new_tokens=s['max_new_tokens'],
                         lr=s['lr'], logz_lr=2e-2, micro_batch=8, format_penalty=kind, truncation=TRUNCATION, seed=seed, progress=False, tensorboard=False)
        r = train_latb(m, train_set(), ALPHA, cfg, tokenizer=t)
        tokens = int(sum(h['length'] * s['prompts_per_step'] * s['n_rollouts'] for h in r.history))
        extra = dict(history=[{k: h[k] for k in ('length', 'truncated_frac', 'residual', 'loss') if k in h} for h in r.history])
    else:
        from powerflow_nb.baselines import run_grpo_baseline
        r = run_grpo_baseline((m, t), train_set(), reward=kind, steps=s['steps'], num_generations=s['n_rollouts'], max_completion_length=s['max_new_tokens'],
                              lr=s['lr'], prompts_per_step=s['prompts_per_step'], micro_batch=8, seed=seed)
        tokens, extra = int(r.train_tokens), {}
    train_s = time.perf_counter() - t0
    return dict(T1=_slim(evaluate_reasoning(r.model, r.tokenizer, evalset, k=s['k'], **ev)),
                greedy=_slim(evaluate_reasoning(r.model, r.tokenizer, evalset, k=1, temperature=0.0, **ev)),
                train_tokens=tokens, train_seconds=train_s, **extra)

def schedule(methods:list, seeds:int)->list:
    "(method, seed) in the order to run: every method's seed 0, then the trained methods' other seeds, then the decoding ones'."
    one = lambda m: m == 'base greedy'  # deterministic: one seed is all there is
    return ([(m, 0) for m in methods] + [(m, s) for s in range(1, seeds) for m in methods if m in TRAINED]
            + [(m, s) for s in range(1, seeds) for m in methods if m not in TRAINED and not one(m)])

def correctness(res:Results, name:str, evalset:list, mode:str, which:str='T1')->np.ndarray|None:
    "[seeds, problems, k] correctness of a method, regraded from its stored texts."
    recs = [r[which] for r in res.records(name) if which in r]
    return np.stack([grade(r['texts'], evalset, mode, r['ended']) for r in recs]) if recs else None

def tables(res:Results, s:dict)->dict:
    evalset, rows, paired = eval_set(s), {}, {}
    C = {(m, mode): correctness(res, m, evalset, mode) for m in METHODS for mode in ('strict', 'lenient')}
    for m in METHODS:
        recs = res.records(m)
        if not recs: continue
        st, le = bootstrap_ci(C[m, 'strict']), bootstrap_ci(C[m, 'lenient'])
        g, gl = (correctness(res, m, evalset, mode, 'greedy') if m in TRAINED else (C[m, mode] if m == 'base greedy' else None) for mode in ('strict', 'lenient'))
        T1 = [r['T1'] for r in recs]
        rows[m] = {'seeds': len(recs), 'strict': st['mean'], 'strict 95% CI': f"[{st['lo']:.3f}, {st['hi']:.3f}]", 'lenient': le['mean'],
                   'lenient 95% CI': f"[{le['lo']:.3f}, {le['hi']:.3f}]", 'greedy strict': None if g is None else float(g.mean()),
                   'greedy lenient': None if gl is None else float(gl.mean()),
                   'format': float(np.mean([np.mean([has_boxed(t) for t in r['texts']]) for r in T1])),
                   'cut': 1 - float(np.mean([np.mean(r['ended']) for r in T1])), 'mean |y|': float(np.mean([np.mean(r['lengths']) for r in T1])),
                   'train tok': int(np.mean([r['train_tokens'] for r in recs])), 'infer tok/ans': float(np.mean([r['tokens_per_answer'] for r in T1]))}
    for a, b in PAIRS:
        if C[a, 'strict'] is None or C[b, 'strict'] is None: continue
        d, dl = paired_bootstrap_ci(C[a, 'strict'], C[b, 'strict']), paired_bootstrap_ci(C[a, 'lenient'], C[b, 'lenient'])
        paired[f'{a} - {b}'] = {'strict': d['mean'], 'strict 95% CI': f"[{d['lo']:+.3f}, {d['hi']:+.3f}]",
                                'lenient': dl['mean'], 'lenient 95% CI': f"[{dl['lo']:+.3f}, {dl['hi']:+.3f}]"}
    return dict(table=rows, paired=paired)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='smoke-test sizes (writes reasoning_quick.json)')
    ap.add_argument('--model', default='smollm2-135m', help="model name for load_lm, or 'tiny'")
    ap.add_argument('--methods', nargs='*', default=METHODS, help=f'subset of {METHODS}')
    ap.add_argument('--seeds', type=int, help='seeds per method (default 3; quick 2)')
    ap.add_argument('--report', action='store_true', help='only regrade and print the tables from the stored texts')
    ap.add_argument('--fresh', action='store_true', help='start a new results file instead of continuing the stored one')
    a = ap.parse_args(argv)
    if bad := [m for m in a.methods if m not in METHODS]: ap.error(f'--methods must be among {METHODS}, got {bad}')
    s = settings(a.quick, a.model, a.seeds)
    res = Results(__file__, s, '_quick' if a.quick else '', a.fresh)
    t0, done = time.time(), []
    for name, seed in ([] if a.report else schedule(a.methods, s['seeds'])):
        if res.get(name, seed) is not None: continue
        t1 = time.time()
        rec = run(name, seed, s, a.model)
        rec['seconds'] = time.time() - t1
        res.put(name, seed, rec); done.append(f'{name}/{seed}')
        acc = grade(rec['T1']['texts'], eval_set(s), 'strict', rec['T1']['ended']).mean()
        print(f"{name} seed {seed}: strict avg {acc:.3f}, mean |y| {np.mean(rec['T1']['lengths']):.1f}, {rec['seconds']:.0f}s", flush=True)
    if done: res.data['invocations'].append(dict(ran=done, wall_s=time.time() - t0))
    res.data.update(tables(res, s), wall_s=sum(i['wall_s'] for i in res.data['invocations']))
    res.save()
    print(format_table(res.data['table'], '{:.3f}'))
    print(f"\nheld-out arithmetic: {s['n_eval']} distinct problems (levels 1-3) x k={s['k']} at T=1, <= {s['max_new_tokens']} tokens; "
          f"training: {s['steps']} updates x {s['prompts_per_step']} prompts x {s['n_rollouts']} rollouts, lr {s['lr']}")
    print('\npaired differences (same problems), 95% bootstrap over problems and seeds:')
    print(format_table(res.data['paired'], '{:+.3f}'))
    print('wrote', res.path)
    return res.data

if __name__ == '__main__': main()
