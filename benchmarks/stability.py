"""The stability study (the paper's Fig. 3) at micro scale on SmolLM2: does LA-TB keep response length and accuracy steady
over a long run where the trajectory-level ablations collapse, and what made the amortisation run collapse?

Every arm is `train_latb` on the shipped arithmetic train split at α = 4, 2 prompts × 4 rollouts per update, a budget of
BUDGET tokens (where the base model finishes 67 % of its train-split answers, measured in the JSON's `base` record),
everything else at `LATBConfig`'s defaults unless the arm says otherwise. Every 10 updates: the training batches'
10-update means (length, truncated fraction, LA-TB residual, clip fraction, distinct completions per group, length
drift) and a held-out evaluation (EVAL_N distinct problems × k = 2 at T = 1, the same sampling seed each time): length
quartiles, truncated fraction, strict and lenient accuracy, format rate, degenerate completions, a sample of texts.

Runs are resumable: each arm checkpoints every 10 updates into benchmarks/stability_runs/ (not in git) and the JSON is
rebuilt from the run folders after every arm; rerun the same command to continue. A run recorded in the JSON whose folder
is gone (a fresh clone) is kept as recorded and not retrained. `--minutes` stops after that long (at
a checkpoint) so long studies fit in sessions; `--arms` picks arms (in the order given).

    python benchmarks/stability.py                          # every arm, in ARMS order (many CPU hours; resumable)
    python benchmarks/stability.py --arms 'latb' --minutes 50
    python benchmarks/stability.py --report                 # rebuild JSON, table and figure from the run folders only
    python benchmarks/stability.py --quick                  # smoke run on the tiny model (writes stability_quick.json)
"""
import argparse, dataclasses, json, re, time
from pathlib import Path
import numpy as np
import torch
from _bench import load, machine, write_json, json_path
from powerflow_nb.toy import format_table
from powerflow_nb.data import arithmetic, checksum, extract_answer, is_correct
from powerflow_nb.models import cpu_native_bf16
from powerflow_nb.lm import sample
from powerflow_nb.train import train_latb, LATBConfig
from powerflow_nb.callbacks import EvalCallback, CollapseGuard, CollapseWarning
from powerflow_nb.viz import history_figure

ALPHA, BUDGET, EVAL_N, EVERY = 4.0, 96, 32, 10
COMMON = dict(alpha=ALPHA, prompts_per_step=2, n_rollouts=4, max_new_tokens=BUDGET, micro_batch=8)
# name: (LATBConfig fields beyond COMMON and the defaults, updates, seeds)
ARMS = {
    'latb': ({}, 300, (0, 1, 2)),  # the default configuration (truncation='penalty', ψ = 0, lr 1e-4)
    'latb psi mask lr5e-4': (dict(format_penalty=-0.5, truncation='mask', lr=5e-4), 200, (0,)),  # the amortisation run's settings
    'latb psi lr5e-4': (dict(format_penalty=-0.5, lr=5e-4), 200, (0,)),  # the same with truncation='penalty'
    'tb_traj': (dict(objective='tb_traj'), 200, (0,)),
    'rl_traj': (dict(objective='rl_traj'), 200, (0,)),
    'latb psi': (dict(format_penalty=-0.5), 200, (0,)),
    'tb_traj psi': (dict(objective='tb_traj', format_penalty=-0.5), 200, (0,)),
    'rl_traj psi': (dict(objective='rl_traj', format_penalty=-0.5), 200, (0,)),
    'latb mask': (dict(truncation='mask'), 200, (0,)),
    'grpo': ({}, 200, (0,)),  # TRL's GRPOTrainer (`train_grpo`), lenient correctness reward: the supervised reference
}
QUICK = dict(steps=4, every=2, eval_n=3, budget=12)

def settings(quick:bool, dtype:str)->dict:
    ev = eval_set(quick)
    return dict(model='tiny' if quick else 'smollm2-135m', dtype=dtype, common={**COMMON, **({'max_new_tokens': QUICK['budget']} if quick else {})},
                every=QUICK['every'] if quick else EVERY, eval_checksum=checksum(ev), train_checksum=checksum(arithmetic('train')))

def eval_set(quick:bool)->list: return arithmetic('eval', n=QUICK['eval_n'] if quick else EVAL_N, distinct=True)

_EXPR = re.compile(r"\d+\s*[-+*/×x]\s*\d+")
def _norm(s:str)->str: return re.sub(r"[\s$]", '', s).replace('×', '*').replace('x', '*')

def degenerate(text:str, length:int, question:str)->bool:
    "Empty or one-token completions, and answers that are the question's own expression (\\boxed{85 - 5} for 'What is 85 - 5?')."
    if length <= 2 or not text.strip(): return True
    exprs = {_norm(e) for e in _EXPR.findall(question)}
    ans = extract_answer(text, 'strict')
    return bool(exprs) and (_norm(text.replace('\\boxed', '').strip('{} .')) in exprs or (ans is not None and _norm(ans) in exprs))

def run_dir(quick:bool)->Path: return Path(__file__).with_name('stability_quick_runs' if quick else 'stability_runs')
def run_name(arm:str, seed:int)->str: return f"{arm.replace(' ', '_')}-s{seed}"

def arm_config(arm:str, s:dict, **kw)->LATBConfig:
    "The arm's `LATBConfig` (for `grpo`: the shared settings, which its held-out evaluation and the guard replay read)."
    return LATBConfig(**{**s['common'], **ARMS[arm][0]}, **kw)

def train_arm(arm:str, seed:int, s:dict, quick:bool, deadline:float)->bool:
    "Train (or continue) one arm; False when the deadline stopped it."
    steps = QUICK['steps'] if quick else ARMS[arm][1]
    out = run_dir(quick) / run_name(arm, seed)
    if done_steps(out) >= steps: return True
    evaluation = EvalCallback(eval_set(quick), s['every'], k=2, seed=1000, keep_texts=True)
    if arm == 'grpo': return train_grpo(out, seed, steps, s, evaluation, deadline)
    cfg = arm_config(arm, s, steps=steps, seed=seed, out_dir=str(out), save_every=s['every'], resume=(out / 'checkpoints').exists(),
                     tensorboard=False, progress=False)
    m, t = load(s['model'], getattr(torch, s['dtype']))
    stop = lambda mt: time.time() > deadline and mt['step'] % s['every'] == 0  # stop right after a checkpoint
    res = train_latb(m, arithmetic('train'), config=cfg, tokenizer=t, callbacks=[evaluation, stop])
    return res.history[-1]['step'] >= cfg.steps if res.history else True

def train_grpo(out:Path, seed:int, steps:int, s:dict, evaluation:EvalCallback, deadline:float)->bool:
    """The `grpo` arm: TRL's `GRPOTrainer` (`run_grpo_baseline`: correctness reward under the lenient grader, the same LoRA, lr,
    prompts per update, rollouts and budget as the LA-TB arms), with the same records in `metrics.jsonl`: per update TRL's mean
    completion length and truncated fraction, every `every` updates the same held-out evaluation (`EvalCallback.evaluate` on
    the policy as it is). Checkpoints every `every` updates; a rerun resumes from the newest and drops later records."""
    from types import SimpleNamespace
    from transformers import TrainerCallback
    from transformers.trainer_utils import get_last_checkpoint
    from powerflow_nb.baselines import run_grpo_baseline
    from powerflow_nb.objectives import get_objective
    from powerflow_nb.policy import HFPolicy
    cfg, m, t = arm_config('grpo', s, steps=steps), *load(s['model'], getattr(torch, s['dtype']))
    out.mkdir(parents=True, exist_ok=True)
    last = get_last_checkpoint(str(out))
    done = int(last.rsplit('-', 1)[1]) if last else 0
    keep = [r for r in _records(out) if r['step'] <= done]
    (out / 'metrics.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in keep))

    evaluation.items = HFPolicy(m, t).prompts(evaluation.prompts, cfg)  # what `EvalCallback.on_train_begin` does for train_latb

    class Records(TrainerCallback):
        host = None  # what `EvalCallback.evaluate` reads of a trainer, made once for TRL's PEFT model (its folded copy is refreshed per sample)
        def write(self, rec):
            with open(out / 'metrics.jsonl', 'a') as f: f.write(json.dumps(rec) + '\n')
        def evaluate(self, model, step):
            self.host = self.host or SimpleNamespace(policy=HFPolicy(model, t), config=cfg, device=next(model.parameters()).device, objective=get_objective('latb'))
            training = model.training
            self.write(evaluation.evaluate(self.host, step))
            model.train(training)  # TRL logs the step's metrics under 'train' only while the model is in train mode
        def on_train_begin(self, args, state, control, model=None, **kw):
            if state.global_step == 0 and not keep: self.evaluate(model, 0)
        def on_step_begin(self, args, state, control, **kw): self.t0 = time.perf_counter()
        def on_log(self, args, state, control, logs=None, **kw):
            if logs and 'completions/mean_length' in logs:
                self.write(dict(step=state.global_step, length=logs['completions/mean_length'], truncated_frac=logs['completions/clipped_ratio'],
                                rollout_acc=logs.get('reward'), seconds=self.seconds))
        def on_step_end(self, args, state, control, model=None, **kw):
            self.seconds = time.perf_counter() - self.t0  # the update alone, as train_latb logs it (the evaluation has its own eval_seconds)
            if state.global_step % s['every'] == 0 or state.global_step == steps:
                self.evaluate(model, state.global_step)
                if time.time() > deadline: control.should_training_stop = True

    run_grpo_baseline((m, t), arithmetic('train'), 'correctness', steps=steps, num_generations=cfg.n_rollouts, max_completion_length=cfg.max_new_tokens,
                      lr=cfg.lr, out_dir=str(out), seed=seed, prompts_per_step=cfg.prompts_per_step, micro_batch=cfg.micro_batch,
                      callbacks=(Records(),), resume=True, save_strategy='steps', save_steps=s['every'])
    return done_steps(out) >= steps

def _records(out:Path)->list:
    p = out / 'metrics.jsonl'
    return [json.loads(l) for l in p.read_text().splitlines() if l.strip()] if p.exists() else []

def done_steps(out:Path)->int: return max((r['step'] for r in _records(out) if not r.get('eval')), default=0)

def guard_stop(recs:list, config:LATBConfig, z:float|None=None):
    "The update at which `CollapseGuard` (with `stop_on_collapse=True`) would stop this run, replaying its recorded metrics; None: never."
    from types import SimpleNamespace
    import warnings
    tr = SimpleNamespace(config=dataclasses.replace(config, stop_on_collapse=True), policy=SimpleNamespace(tokenizer=object()), out_dir=None, step=0, collapsed=None)
    g = CollapseGuard() if z is None else CollapseGuard(z=z); g.on_train_begin(tr)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', CollapseWarning)
        return next((r['step'] for r in recs if not r.get('eval') and g.on_step_end(tr, dict(r))), None)

def curve(out:Path, every:int, items:list, config:LATBConfig)->dict:
    """The run's curve: one point per evaluation with the training batches' means over the updates before it; `acc_if_ended`
    is the held-out lenient accuracy with every cut completion graded as if it had ended (what GRPO's reward pays for)."""
    recs = _records(out)
    ups = {r['step']: r for r in recs if not r.get('eval')}
    pts = []
    for e in sorted((r for r in recs if r.get('eval')), key=lambda r: r['step']):
        st, win = e['step'], [ups[i] for i in range(e['step'] - every + 1, e['step'] + 1) if i in ups]
        mean = lambda k: float(np.mean(v)) if (v := [w[k] for w in win if w.get(k) is not None]) else None
        L, k = np.array(e['lengths']), len(e['texts']) // len(items)
        q, gold = [items[i // k].prompt for i in range(len(e['texts']))], [items[i // k].answer for i in range(len(e['texts']))]
        pts.append(dict(step=st, length=mean('length'), truncated=mean('truncated_frac'), residual=mean('residual'), clip_frac=mean('clip_frac'),
                        distinct=mean('distinct_frac'), length_drift=mean('length_drift'), seconds=mean('seconds'),
                        eval_length=float(L.mean()), eval_length_q1=float(np.percentile(L, 25)), eval_length_median=float(np.median(L)),
                        eval_length_q3=float(np.percentile(L, 75)), eval_truncated=e['eval_truncated'], acc=e.get('eval_acc'),
                        acc_lenient=e.get('eval_acc_lenient'), acc_if_ended=float(np.mean([is_correct(t, a, 'lenient') for t, a in zip(e['texts'], gold)])),
                        format=e.get('eval_format'), eval_residual=e['eval_residual'],
                        degenerate=float(np.mean([degenerate(t, n, qq) for t, n, qq in zip(e['texts'], e['lengths'], q)])),
                        texts=e['texts'][:4]))
    return dict(points=pts, updates=max(ups, default=0), guard_stop=guard_stop(recs, config), ratio_guard_stop=guard_stop(recs, config, z=0.0),
                lengths=[ups[i]['length'] if i in ups else None for i in range(1, max(ups, default=0) + 1)],
                wall_s=float(sum(u['seconds'] for u in ups.values()) + sum(r.get('eval_seconds', 0) for r in recs if r.get('eval'))))

def base_truncation(s:dict, n:int=32, k:int=4)->dict:
    "The base model's truncated fraction and lengths at the budget on train-split prompts (T = 1)."
    m, t = load(s['model'], getattr(torch, s['dtype']))
    items = arithmetic('train')[:: max(1, len(arithmetic('train')) // n)][:n]
    out = sample(m, t, [it.prompt for it in items], n=k, max_new_tokens=s['common']['max_new_tokens'], seed=0, batch_size=64)
    L = out.lengths.float()
    return dict(prompts=len(items), k=k, truncated=1 - out.eos.float().mean().item(), mean_length=L.mean().item(),
                quartiles=[float(np.percentile(L.numpy(), q)) for q in (25, 50, 75)])

def cheap_answers(s:dict)->dict:
    """Cause (a), exactly on the base model: mean per-token log p of candidate answers to the held-out questions. LA-TB ranks
    completions of a length by α·(log p/|y| + ψ), so an answer that copies the question is the cheapest way to earn ψ's box."""
    from powerflow_nb.lm import encode_prompts, completion_logprobs, left_pad
    m, t = load(s['model'], getattr(torch, s['dtype']))
    items = eval_set(False)
    cands = {'\\boxed{answer}': lambda e, a: f"\\boxed{{{a}}}", '\\boxed{question}': lambda e, a: f"\\boxed{{{e}}}",
             'question = \\boxed{answer}': lambda e, a: f"{e} = \\boxed{{{a}}}", 'question = \\boxed{question}': lambda e, a: f"{e} = \\boxed{{{e}}}",
             'question = answer': lambda e, a: f"{e} = {a}"}
    rows = [(it, _EXPR.search(it.prompt)) for it in items]
    rows = [(it, mt.group(0)) for it, mt in rows if mt]
    out = {}
    with torch.no_grad():
        for name, f in cands.items():
            ids = [t(f(e, it.answer), add_special_tokens=False)['input_ids'] + [t.eos_token_id] for it, e in rows]
            T = max(map(len, ids))
            cids = torch.tensor([x + [t.eos_token_id] * (T - len(x)) for x in ids]); cmask = torch.tensor([[i < len(x) for i in range(T)] for x in ids])
            pids, pmask = encode_prompts(t, [it.prompt for it, _ in rows], chat=True)
            lp = completion_logprobs(m, pids, pmask, cids, cmask).float()
            per_tok = (lp.sum(-1) / cmask.sum(-1)).numpy()
            out[name] = dict(logp_per_token=float(per_tok.mean()), logp=float(lp.sum(-1).mean()), tokens=float(cmask.sum(-1).float().mean()),
                             example=f(rows[0][1], rows[0][0].answer))
    return dict(questions=len(rows), candidates=out)

def window_drift(L:np.ndarray, every:int=EVERY)->np.ndarray:
    "The issue's statistic on per-update mean lengths from update 41 on (last axis): max |window mean / first window's − 1| over 10-update windows."
    n = L.shape[-1] // every * every
    W = L[..., :n].reshape(*L.shape[:-1], -1, every).mean(-1)
    return np.abs(W[..., 1:] / W[..., :1] - 1).max(-1)

def drift_tests(lengths:list, start:int=41, perms:int=2000)->dict:
    """Is the length after update 50 drifting, or is the ±30 % check reading the sampling noise of 8 rollouts per update?
    Null hypothesis: no drift from update `start` on, so the per-update mean lengths are exchangeable in time. `drift p`: the
    share of random orders of the run's own updates whose window drift is at least the observed one (permutation test);
    `pass if flat`: the share of those orders that pass the ±30 % check, i.e. how often a run that does not drift at all, with
    this run's own update-to-update spread, would pass it; `pass flat 4x` the same with each update the mean of 4 of the
    run's updates drawn at random (a batch 4 times as large: 32 rollouts, near the trainer's default 4 × 7); `ramp power` how
    often the test (at 5 %) flags a random order of the run's updates with a drift added, rising linearly from update 50 to
    +30 % at the end (100 such runs, 500 orders each). `trend`: least-squares slope of the per-update mean length over
    updates 51–end, in % of its mean per 100 updates, with a 95 % interval (the updates' lag-1 autocorrelation is printed: ≈ 0
    makes the interval valid). `update sd`: the standard deviation of the per-update mean length over updates 51–end."""
    L = np.array([x for x in lengths[start - 1:] if x is not None], dtype=float)
    if len(L) < 3 * EVERY: return {}
    rng = np.random.default_rng(0)
    shuffled = lambda x, k: rng.permuted(np.broadcast_to(x, (k, len(x))), axis=-1)  # k random orders of x, one per row
    null, d = window_drift(shuffled(L, perms)), float(window_drift(L))
    flat4 = window_drift(rng.choice(L, (perms, len(L), 4)).mean(-1))
    ramp = 1 + 0.3 * np.clip(np.arange(len(L)) - (50 - start), 0, None) / (len(L) - 1 - (50 - start))
    flagged = [np.mean(window_drift(shuffled(y, 500)) >= window_drift(y)) < 0.05 for y in shuffled(L, 100) * ramp]
    x = np.arange(len(L))[50 - start + 1:]; y = L[50 - start + 1:]
    b, a = np.polyfit(x, y, 1)
    se = np.sqrt(np.var(y - a - b * x, ddof=2) / np.sum((x - x.mean()) ** 2))
    pct = lambda v: float(100 * 100 * v / y.mean())
    r = y - y.mean()
    return {'update sd': float(y.std(ddof=1)), 'drift p': float(np.mean(null >= d)), 'pass if flat': float(np.mean(null <= 0.30)),
            'pass flat 4x': float(np.mean(flat4 <= 0.30)), 'ramp power': float(np.mean(flagged)), 'trend %/100u': pct(b),
            'trend lo': pct(b - 1.96 * se), 'trend hi': pct(b + 1.96 * se), 'lag-1 ac': float(np.sum(r[1:] * r[:-1]) / np.sum(r * r))}

def verdict(c:dict, base_cut:float)->dict:
    """The issue's checks on one run: length drift after update 50 (10-update means within ±30 % of update 50's), truncation
    against the base model's + 0.10, degenerate share < 5 %, and held-out lenient accuracy at the end ≥ at update 50 and ≥
    the base model's (each accuracy the mean of 3 evaluations, 192 answers: one evaluation's 64 answers have s.e. ≈ 0.06).
    Beside them: where the collapse guard would stop the run (`guard stops at`; `ratio-only guard`: the guard without its
    standard-error test, z = 0), the same drift on the held-out evaluation (fixed prompts and seed) and `drift_tests`; `holds` uses the ±30 %
    check, `holds (test)` in its place no evidence of drift: the permutation test at 5 % and a trend interval covering 0."""
    P = c['points']
    if len(P) < 2: return {'updates': c['updates'], 'holds': False}  # not trained yet
    near = lambda st: [p for p in P if abs(p['step'] - st) <= 10]
    acc = lambda ps: float(np.mean([p['acc_lenient'] for p in ps])) if ps else None
    p50 = next((p for p in P if p['step'] == 50), None)
    after = [p['length'] for p in P if p['step'] > 50 and p['length'] is not None]
    drift = max((abs(x / p50['length'] - 1) for x in after), default=None) if p50 and p50['length'] else None
    ev_drift = max((abs(p['eval_length'] / p50['eval_length'] - 1) for p in P if p['step'] > 50), default=None) if p50 else None
    tests = drift_tests(c.get('lengths', []))
    last, a0, a50, a_end = P[-1], acc(P[:1]), acc(near(50)), acc(P[-3:])
    rest = [last['truncated'] <= base_cut + 0.10, last['degenerate'] < 0.05, a50 is not None and a_end >= a50 and a_end >= a0, c['updates'] >= c['steps']]
    return {'updates': c['updates'], 'minutes': c['wall_s'] / 60, 'guard stops at': c.get('guard_stop'), 'ratio-only guard': c.get('ratio_guard_stop'), '|y| @50': p50['length'] if p50 else None, '|y| end': last['length'],
            'max drift >50': drift, **tests, 'held-out drift >50': ev_drift, 'cut end': last['truncated'], 'cut base': base_cut, 'eval cut end': last['eval_truncated'],
            'distinct end': last['distinct'], 'degenerate end': last['degenerate'], 'lenient @0': a0, 'lenient @40-60': a50,
            'lenient last 3': a_end, 'strict end': last['acc'], 'holds': drift is not None and drift <= 0.30 and all(rest),
            'holds (test)': bool(tests) and tests['drift p'] >= 0.05 and tests['trend lo'] <= 0 <= tests['trend hi'] and all(rest)}

def report(s:dict, quick:bool, base:dict, wall:float, argv, final:bool=False):
    runs = {run_name(a, sd): dict(arm=a, seed=sd, config=ARMS[a][0], steps=QUICK['steps'] if quick else ARMS[a][1], **curve(run_dir(quick) / run_name(a, sd), s['every'], eval_set(quick), arm_config(a, s)))
            for a in ARMS for sd in ARMS[a][2] if (run_dir(quick) / run_name(a, sd) / 'metrics.jsonl').exists()}
    old = json.loads(json_path(__file__, '_quick' if quick else '').read_text()) if json_path(__file__, '_quick' if quick else '').exists() else {}
    runs = {**{n: r for n, r in old.get('runs', {}).items() if not quick}, **runs}  # runs recorded earlier whose folders are gone stay
    rows = {n: verdict(r, base['truncated']) for n, r in runs.items()}
    table = format_table(rows, '{:.3f}')
    print(table)
    hist = {n: [{k: p[k] for k in ('step', 'length', 'truncated', 'acc_lenient', 'distinct', 'degenerate', 'residual')} for p in r['points']] for n, r in runs.items()}
    if hist:
        fig = history_figure(hist, ['length', 'truncated', 'acc_lenient', 'distinct', 'degenerate', 'residual'])
        fig.update_layout(title=f'Stability on SmolLM2, α = {ALPHA:g}, budget {s["common"]["max_new_tokens"]} (10-update means; held-out lenient accuracy, degenerate share)')
        fig.write_html(json_path(__file__, '_quick' if quick else '').with_suffix('.html'), include_plotlyjs='directory')
    out = dict(settings=s, base=base, machine=machine(), arms={a: dict(config=c, steps=st, seeds=list(sd)) for a, (c, st, sd) in ARMS.items()},
               runs=runs, table=table, verdicts=rows,
               invocations=old.get('invocations', []) + [dict(command='python benchmarks/stability.py ' + ' '.join(argv), wall_s=wall, date=time.strftime('%Y-%m-%d %H:%M'))][:int(final)])
    print('wrote', write_json(__file__, out, '_quick' if quick else ''))

def main(argv=None):
    import sys
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='smoke run on the tiny model (4 updates, starts afresh)')
    ap.add_argument('--arms', nargs='+', default=list(ARMS), choices=list(ARMS), help='arms to train, in this order')
    ap.add_argument('--seeds', type=int, nargs='+', help="only these seeds (default: each arm's own)")
    ap.add_argument('--minutes', type=float, default=1e9, help='stop training after this long (at a checkpoint); the JSON keeps what is done')
    ap.add_argument('--report', action='store_true', help='only rebuild the JSON, table and figure from the run folders')
    ap.add_argument('--dtype', choices=['float32', 'bfloat16'], help='model dtype (default: bfloat16 where the CPU computes it natively)')
    ap.add_argument('--threads', type=int, help="torch CPU threads (default: torch's choice)")
    a = ap.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    t0 = time.time()
    old = json.loads(json_path(__file__, '_quick' if a.quick else '').read_text()) if json_path(__file__, '_quick' if a.quick else '').exists() and not a.quick else {}
    dtype = a.dtype or old.get('settings', {}).get('dtype') or ('bfloat16' if cpu_native_bf16() else 'float32')
    s = settings(a.quick, dtype)
    if old and old.get('settings') != s: raise SystemExit(f"{json_path(__file__)} holds runs with other settings:\n  {old['settings']}\nvs now\n  {s}")
    if a.quick:
        import shutil
        shutil.rmtree(run_dir(True), ignore_errors=True)
    base = old.get('base') or base_truncation(s)
    if not a.quick and 'cheap_answers' not in base: base['cheap_answers'] = cheap_answers(s)
    print(f"base model at budget {s['common']['max_new_tokens']}: truncated {base['truncated']:.3f}, mean |y| {base['mean_length']:.1f}")
    deadline = t0 + a.minutes * 60
    for arm in ([] if a.report else a.arms):
        for seed in [sd for sd in ARMS[arm][2] if a.seeds is None or sd in a.seeds]:
            if time.time() > deadline: break
            if run_name(arm, seed) in old.get('runs', {}) and not (run_dir(a.quick) / run_name(arm, seed)).exists():
                print(f"== {arm} seed {seed}: recorded in {json_path(__file__).name} but its run folder (with the checkpoints) is gone; "
                      f"kept as recorded (delete it from the JSON to train it again)")
                continue
            print(f"== {arm} seed {seed}", flush=True)
            train_arm(arm, seed, s, a.quick, deadline)
            report(s, a.quick, base, time.time() - t0, argv)
    report(s, a.quick, base, time.time() - t0, argv, final=True)

if __name__ == '__main__': main()
