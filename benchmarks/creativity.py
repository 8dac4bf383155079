"""Creative writing: PowerFlow α = 0.5 vs sampling temperature (0.5-1.3) and the base model, on held-out shipped creative
prompts: semantic diversity (mean pairwise cosine distance of mean-pooled base-model hidden states, within each
prompt's k completions), the same diversity length-matched (the first 16 tokens of the completions that have at least
16, so short fragments do not count as diverse), distinct-2 and a quality proxy (the base model's mean per-token
log-likelihood). Every method has 3 seeds (PowerFlow retrains; temperature rows resample); intervals are 95 % bootstrap
over prompts and seeds. Writes a plotly Pareto figure (creativity.html) and a table.

PowerFlow trains on one part of the creative prompts and is evaluated, like every other method, on the rest. The run is
resumable per (method, seed), like reasoning.py.

    python benchmarks/creativity.py --quick     # smoke test, a few minutes on 2 CPU cores
    python benchmarks/creativity.py             # full, resumable (measured: 31 min on 2 CPU cores, partly shared)
"""
import argparse, time
from pathlib import Path
import numpy as np
import plotly.graph_objects as go
from _bench import load, Results
from powerflow_nb.toy import format_table
from powerflow_nb.data import creative, checksum
from powerflow_nb.train import train_latb, LATBConfig
from powerflow_nb.eval import evaluate_creative, bootstrap_ci, paired_bootstrap_ci

ALPHA = 0.5
TEMPERATURES = (0.5, 0.7, 0.85, 1.0, 1.3)
SIZES = dict(full=dict(seeds=3, steps=8, prompts_per_step=2, n_rollouts=4, max_new_tokens=64, n_eval=30, k=4, lr=5e-4, matched_tokens=16),
             quick=dict(seeds=2, steps=1, prompts_per_step=1, n_rollouts=2, max_new_tokens=12, n_eval=2, k=2, lr=5e-4, matched_tokens=4))
def name_of(T): return 'base (T=1)' if T == 1.0 else f'temperature {T:g}'
PF = f'powerflow a={ALPHA:g}'
METHODS = [name_of(T) for T in TEMPERATURES] + [PF]
KEYS = ('semantic_diversity', 'matched_diversity', 'quality')

def split(s:dict)->tuple:
    "(held-out prompts, training prompts) of the shipped creative set, fixed by a seeded permutation."
    items = creative()
    order = np.random.default_rng(0).permutation(len(items))
    return [items[i] for i in order[:s['n_eval']]], [items[i] for i in order[s['n_eval']:]]

def run(name:str, seed:int, s:dict, model:str)->dict:
    evalset, train = split(s)
    ev = dict(k=s['k'], max_new_tokens=s['max_new_tokens'], seed=1000 + seed, matched_tokens=s['matched_tokens'], batch_size=64)
    m, t = load(model)
    if name != PF: return dict(evaluate_creative(m, t, evalset, temperature=TEMPERATURES[METHODS.index(name)], **ev), train_tokens=0)
    cfg = LATBConfig(steps=s['steps'], prompts_per_step=s['prompts_per_step'], n_rollouts=s['n_rollouts'], max_new_tokens=s['max_new_tokens'],
                     lr=s['lr'], logz_lr=2e-2, micro_batch=8, seed=seed, progress=False, tensorboard=False)
    r = train_latb(m, train, ALPHA, cfg, tokenizer=t)
    # diversity is embedded and quality scored with the base model (adapters off), as for every other row
    return dict(evaluate_creative(r.model, r.tokenizer, evalset, temperature=1.0, **ev),
                train_tokens=int(sum(h['length'] * s['prompts_per_step'] * s['n_rollouts'] for h in r.history)))

def table(res:Results)->dict:
    rows = {}
    for name in METHODS:
        recs = res.records(name)
        if not recs: continue
        row = {'seeds': len(recs)}
        for key, col in zip(KEYS, ('sem_div', 'matched_div', 'quality')):
            x = np.array([r['per_prompt'][key] for r in recs], dtype=float)[..., None]
            ci = bootstrap_ci(x) if not np.isnan(x).all() else dict(mean=np.nan, lo=np.nan, hi=np.nan)  # no prompt with 2 long completions
            row.update({col: ci['mean'], col + '_lo': ci['lo'], col + '_hi': ci['hi']})
        row.update(matched_frac=float(np.mean([r['matched_frac'] for r in recs])), distinct_2=float(np.mean([r['distinct_2'] for r in recs])),
                   mean_len=float(np.mean([r['length']['mean'] for r in recs])), median_len=float(np.median(np.concatenate([r['lengths'] for r in recs]))),
                   train_tok=int(np.mean([r['train_tokens'] for r in recs])))
        rows[name] = row
    return rows

def paired(res:Results)->dict:
    "PowerFlow − each temperature row, per key: the difference and its paired 95 % bootstrap interval (same prompt draws)."
    pf = res.records(PF)
    out = {}
    for name in METHODS[:-1]:
        recs = res.records(name)
        if not pf or not recs: continue
        a, b = ({key: np.array([r['per_prompt'][key] for r in rs], dtype=float)[..., None] for key in KEYS} for rs in (pf, recs))
        out[f'{PF} - {name}'] = {key: paired_bootstrap_ci(a[key], b[key]) if not (np.isnan(a[key]).all() or np.isnan(b[key]).all())
                                 else dict(mean=np.nan, lo=np.nan, hi=np.nan) for key in KEYS}  # no prompt with 2 long completions
    return out

def pareto_figure(rows:dict)->go.Figure:
    "Semantic diversity (all and length-matched) vs quality proxy, one marker per method with 95 % intervals."
    names = list(rows)
    fig = go.Figure()
    for key, label, sym in (('sem_div', 'all completions', 'circle'), ('matched_div', 'length-matched (first 16 tokens)', 'diamond')):
        fig.add_trace(go.Scatter(x=[rows[n]['quality'] for n in names], y=[rows[n][key] for n in names], mode='markers+text', text=names,
                                 textposition='top center', name=label, marker=dict(size=11, symbol=sym),
                                 error_x=dict(type='data', array=[rows[n]['quality_hi'] - rows[n]['quality'] for n in names],
                                              arrayminus=[rows[n]['quality'] - rows[n]['quality_lo'] for n in names]),
                                 error_y=dict(type='data', array=[rows[n][key + '_hi'] - rows[n][key] for n in names],
                                              arrayminus=[rows[n][key] - rows[n][key + '_lo'] for n in names])))
    fig.update_layout(title='Creative writing: semantic diversity vs quality proxy (up and right is better; 95 % intervals)',
                      xaxis_title='quality proxy: base mean log-likelihood per token', yaxis_title='semantic diversity (mean pairwise cosine distance)', height=560)
    return fig

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='smoke-test sizes')
    ap.add_argument('--model', default='smollm2-135m', help="model name for load_lm, or 'tiny'")
    ap.add_argument('--fresh', action='store_true', help='start a new results file instead of continuing the stored one')
    a = ap.parse_args(argv)
    s = dict(SIZES['quick' if a.quick else 'full'], model=a.model)
    ev, tr = split(s)
    s['eval_checksum'], s['train_checksum'] = checksum(ev), checksum(tr)
    res = Results(__file__, s, '_quick' if a.quick else '', a.fresh)
    t0, done = time.time(), []
    for seed in range(s['seeds']):
        for name in METHODS:
            if res.get(name, seed) is not None: continue
            t1 = time.time()
            rec = run(name, seed, s, a.model)
            rec['seconds'] = time.time() - t1
            res.put(name, seed, rec); done.append(f'{name}/{seed}')
            print(f"{name} seed {seed}: diversity {rec['semantic_diversity']:.4f} (matched {rec['matched_diversity']:.4f}), quality {rec['quality']:.3f}, "
                  f"{rec['seconds']:.0f}s", flush=True)
    if done: res.data['invocations'].append(dict(ran=done, wall_s=time.time() - t0))
    rows = table(res)
    html = Path(__file__).with_name('creativity' + ('_quick' if a.quick else '') + '.html')
    pareto_figure(rows).write_html(html, include_plotlyjs='directory')
    diffs = paired(res)
    res.data.update(table=rows, paired=diffs, figure=html.name, wall_s=sum(i['wall_s'] for i in res.data['invocations']))
    res.save()
    show = {n: {'sem_div [95% CI]': f"{r['sem_div']:.3f} [{r['sem_div_lo']:.3f}, {r['sem_div_hi']:.3f}]",
                'matched [95% CI]': f"{r['matched_div']:.3f} [{r['matched_div_lo']:.3f}, {r['matched_div_hi']:.3f}]",
                'matched_frac': r['matched_frac'], 'quality [95% CI]': f"{r['quality']:.2f} [{r['quality_lo']:.2f}, {r['quality_hi']:.2f}]",
                'distinct_2': r['distinct_2'], 'mean_len': r['mean_len'], 'median_len': r['median_len'], 'train_tok': r['train_tok']} for n, r in rows.items()}
    print(format_table(show, '{:.3f}'))
    print(format_table({n: {k: f"{d[k]['mean']:+.3f} [{d[k]['lo']:+.3f}, {d[k]['hi']:+.3f}]" for k in KEYS} for n, d in diffs.items()}, '{}'))
    print(f"{s['n_eval']} held-out creative prompts x {s['k']} samples, <= {s['max_new_tokens']} tokens, {s['seeds']} seeds; PowerFlow α={ALPHA:g}: "
          f"{s['steps']} updates x {s['prompts_per_step']} prompts x {s['n_rollouts']} rollouts; 95% bootstrap over prompts and seeds")
    print('wrote', res.path, 'and', html)
    return res.data

if __name__ == '__main__': main()
