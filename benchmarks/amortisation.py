"""Amortisation: PowerFlow α = 4 (the paper's recipe, ψ = -0.5) on SmolLM2 for 100 updates, evaluated every 20 on the
reasoning benchmark's held-out set (120 distinct problems × k = 4 at T = 1, the same sampling seed as its base row), against
the untrained model decoded cheaply (T = 1, T = 1/α, greedy) and sampled by the inference-time power samplers (MH, SMC
at α = 4), each at its cost per answer (from reasoning.json). Where does the curve reach each line, and after how many
answers is training cheaper than power sampling?

The run is resumable: it checkpoints every 10 updates into benchmarks/amortisation_run/ (not in git); rerun the same
command after an interruption to continue, or with a larger --steps to extend it. The evaluations keep their texts
(regraded here with both graders, 95 % bootstrap intervals over problems).

    python benchmarks/reasoning.py --methods 'base T=1' 'base T=1/4' 'base greedy' 'mh a=4' 'smc a=4'   # the lines, first
    python benchmarks/amortisation.py            # 65 min measured, sharing 2 CPU cores with reasoning.py
    python benchmarks/amortisation.py --quick    # smoke test (after reasoning.py --quick)
"""
import argparse, json, time
from pathlib import Path
import numpy as np
import torch
from _bench import load, machine, write_json, Results
import reasoning as R
from powerflow_nb.toy import format_table
from powerflow_nb.train import train_latb, LATBConfig
from powerflow_nb.callbacks import EvalCallback
from powerflow_nb.eval import grade, bootstrap_ci, amortisation_figure, crossing, break_even

LINES = ('base T=1', 'base T=1/4', 'base greedy', 'mh a=4', 'smc a=4')
SAMPLERS = ('mh a=4', 'smc a=4')

def baselines(s:dict, quick:bool)->dict:
    "Accuracy (both graders), mean length and cost per answer of each line, from reasoning.json (read, never written)."
    res, ev, out = Results(R.__file__, s, '_quick' if quick else ''), R.eval_set(s), {}
    for name in LINES:
        recs = [r['T1'] for r in res.records(name)]
        if not recs:
            print(f"note: {res.path} has no {name!r} row yet, so the figure lacks its line; run: python benchmarks/reasoning.py --methods {name!r}")
            continue
        acc = {mode: float(R.correctness(res, name, ev, mode).mean()) for mode in ('strict', 'lenient')}
        out[name] = dict(acc=acc['strict'], acc_lenient=acc['lenient'], length=float(np.mean([np.mean(r['lengths']) for r in recs])),
                         tokens_per_answer=float(np.mean([r['tokens_per_answer'] for r in recs])), seeds=len(recs))
    return out

def read_run(out:Path, batch:int, ev:list)->dict:
    "The curve of the run in `out`: per evaluation its step, training tokens so far, accuracy with intervals, length and the rest."
    lines = [json.loads(l) for l in (out / 'metrics.jsonl').read_text().splitlines() if l.strip()]
    steps = {l['step']: l for l in lines if not l.get('eval')}
    tokens = np.cumsum([0] + [steps[i]['length'] * batch for i in range(1, max(steps, default=0) + 1)])
    curve = {k: [] for k in ('step', 'train_tokens', 'acc', 'acc_lo', 'acc_hi', 'acc_lenient', 'acc_lenient_lo', 'acc_lenient_hi',
                             'length', 'truncated', 'format', 'residual', 'texts', 'ended')}
    for e in sorted((l for l in lines if l.get('eval')), key=lambda l: l['step']):
        C = {mode: grade(e['texts'], ev, mode, e['ended']) for mode in ('strict', 'lenient')}
        ci, cl = bootstrap_ci(C['strict']), bootstrap_ci(C['lenient'])
        for k, v in dict(step=e['step'], train_tokens=int(tokens[e['step']]), acc=ci['mean'], acc_lo=ci['lo'], acc_hi=ci['hi'], acc_lenient=cl['mean'],
                         acc_lenient_lo=cl['lo'], acc_lenient_hi=cl['hi'], length=e['eval_length'], truncated=e['eval_truncated'],
                         format=e.get('eval_format'), residual=e['eval_residual'], texts=e['texts'], ended=e['ended']).items(): curve[k].append(v)
    return curve

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help="smoke-test sizes (reads reasoning_quick.json; starts afresh every time)")
    ap.add_argument('--model', default='smollm2-135m', help="model name for load_lm, or 'tiny' (as given to reasoning.py)")
    ap.add_argument('--steps', type=int, help='updates (default 100; quick 4); a larger value extends a finished run')
    ap.add_argument('--every', type=int, help='evaluation period in updates (default 20; quick 2)')
    ap.add_argument('--threads', type=int, help='torch CPU threads (default: torch\'s choice)')
    a = ap.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    model = a.model
    s = R.settings(a.quick, model)
    steps, every = a.steps or (4 if a.quick else 100), a.every or (2 if a.quick else 20)
    ev = R.eval_set(s)
    out = Path(__file__).with_name('amortisation_quick_run' if a.quick else 'amortisation_run')
    t0 = time.time()
    cfg = LATBConfig(steps=steps, prompts_per_step=s['prompts_per_step'], n_rollouts=s['n_rollouts'], max_new_tokens=s['max_new_tokens'], lr=s['lr'],
                     logz_lr=2e-2, micro_batch=8, format_penalty=-0.5, seed=0, out_dir=str(out), save_every=10 if not a.quick else 2,
                     resume=not a.quick and (out / 'checkpoints').exists(), overwrite=a.quick, tensorboard=False)
    m, t = load(model)
    train_latb(m, R.train_set(), R.ALPHA, cfg, tokenizer=t,
               callbacks=[EvalCallback(ev, every, k=s['k'], seed=1000, batch_size=64, keep_texts=True)])
    wall = time.time() - t0
    lines, curve = baselines(s, a.quick), read_run(out, s['prompts_per_step'] * s['n_rollouts'], ev)
    summary, tables = {}, {}
    for grader, key in (('strict', 'acc'), ('lenient', 'acc_lenient')):
        best = int(np.argmax(curve[key]))
        point = lambda i: {'acc': curve[key][i], 'mean |y|': curve['length'][i], 'tok/answer': curve['length'][i], 'train tokens': curve['train_tokens'][i]}
        rows = {'PowerFlow a=4, start': point(0), f'PowerFlow a=4, best (update {curve["step"][best]})': point(best),
                f'PowerFlow a=4, update {curve["step"][-1]}': point(-1)}
        for name, b in lines.items():
            level = b['acc' if grader == 'strict' else 'acc_lenient']
            reach = crossing(curve['step'][1:], [a if a > 0 else -1 for a in curve[key][1:]], level)  # after training began; 0 reaches nothing
            i = curve['step'].index(reach) if reach is not None else None
            rows[name] = {'acc': level, 'mean |y|': b['length'], 'tok/answer': b['tokens_per_answer'], 'reached at update': reach,
                          'break-even answers': break_even(curve['train_tokens'][i], curve['length'][i], b['tokens_per_answer']) if name in SAMPLERS and i is not None else None}
        tables[grader] = rows
        fig = amortisation_figure(dict(curve, acc=curve[key], acc_lo=curve[key + '_lo'], acc_hi=curve[key + '_hi']),
                                  {n: dict(b, acc=b['acc' if grader == 'strict' else 'acc_lenient']) for n, b in lines.items()},
                                  f'PowerFlow α = 4 on SmolLM2 during training vs decoding baselines ({grader} grader)')
        fig.write_html(Path(__file__).with_name(f"amortisation{'_quick' if a.quick else ''}_{grader}.html"), include_plotlyjs='directory')
        print(f'\n{grader} grader: held-out accuracy (k={s["k"]}, T=1) during training vs the baselines')
        print(format_table(rows, '{:.3f}', ['acc', 'mean |y|', 'tok/answer', 'train tokens', 'reached at update', 'break-even answers']))
    print('\n' + format_table({f"update {st}": {'tokens': tk, 'strict': f"{c:.3f} [{lo:.3f}, {hi:.3f}]", 'lenient': f"{cl:.3f}", 'mean |y|': L, 'cut': tr, 'format': fm, 'residual': r}
                               for st, tk, c, lo, hi, cl, L, tr, fm, r in zip(curve['step'], curve['train_tokens'], curve['acc'], curve['acc_lo'], curve['acc_hi'],
                                                                              curve['acc_lenient'], curve['length'], curve['truncated'], curve['format'], curve['residual'])}, '{:.3f}'))
    summary = dict(settings=dict(s, steps=steps, every=every, format_penalty=-0.5), machine=machine(), lines=lines, curve=curve, tables=tables, wall_s_this_invocation=wall)
    print('wrote', write_json(__file__, summary, '_quick' if a.quick else ''))

if __name__ == '__main__': main()
