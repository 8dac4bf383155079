"""Creative writing: PowerFlow α = 0.5 vs sampling temperature 0.7-1.5 vs the base model, on the shipped creative
prompts: semantic diversity (mean pairwise cosine distance of mean-pooled base-model hidden states, within each
prompt's k completions) against a quality proxy (the base model's mean per-token log-likelihood). Writes a plotly
Pareto figure (creativity.html) and a table.

PowerFlow trains on one part of the creative prompts and is evaluated, like every other method, on the rest.

    python benchmarks/creativity.py --quick     # smoke test, < 5 min on 2 CPU cores
    python benchmarks/creativity.py             # full, < 60 min on 2 CPU cores
"""
import argparse, time
from pathlib import Path
import numpy as np
import plotly.graph_objects as go
from _bench import load, machine, write_json
from powerflow_nb.toy import format_table
from powerflow_nb.data import creative
from powerflow_nb.train import train_latb, LATBConfig
from powerflow_nb.eval import evaluate_creative

def pareto_figure(rows:dict)->go.Figure:
    "Semantic diversity vs quality proxy, one marker per method, with the Pareto front (higher is better on both)."
    names = list(rows)
    x = [rows[n]['quality'] for n in names]; y = [rows[n]['sem_div'] for n in names]
    front = [n for n in names if not any(rows[m]['quality'] >= rows[n]['quality'] and rows[m]['sem_div'] >= rows[n]['sem_div']
                                         and (rows[m]['quality'], rows[m]['sem_div']) != (rows[n]['quality'], rows[n]['sem_div']) for m in names)]
    front.sort(key=lambda n: rows[n]['quality'])
    fig = go.Figure([go.Scatter(x=x, y=y, mode='markers+text', text=names, textposition='top center', name='methods',
                                error_x=dict(array=[rows[n]['quality_se'] for n in names]), error_y=dict(array=[rows[n]['sem_div_se'] for n in names]),
                                marker=dict(size=11, color=['#2ca02c' if n.startswith('powerflow') else '#1f77b4' for n in names])),
                     go.Scatter(x=[rows[n]['quality'] for n in front], y=[rows[n]['sem_div'] for n in front], mode='lines',
                                line=dict(dash='dot', color='gray'), name='Pareto front')])
    fig.update_layout(title='Creative writing: semantic diversity vs quality proxy (up and right is better)',
                      xaxis_title='quality proxy: base mean log-likelihood per token', yaxis_title='semantic diversity (mean pairwise cosine distance)', height=520)
    return fig

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='smoke-test sizes')
    ap.add_argument('--model', default='smollm2-135m', help="model name for load_lm, or 'tiny'")
    for k in ('steps', 'prompts_per_step', 'n_rollouts', 'max_new_tokens', 'n_eval', 'k', 'seed'):
        ap.add_argument('--' + k.replace('_', '-'), type=int)
    ap.add_argument('--temperatures', type=float, nargs='*', default=[0.7, 1.0, 1.3, 1.5])
    ap.add_argument('--alpha', type=float, default=0.5); ap.add_argument('--lr', type=float, default=5e-4)
    a = ap.parse_args(argv)
    d = (dict(steps=1, prompts_per_step=1, n_rollouts=2, max_new_tokens=16, n_eval=2, k=2, seed=0) if a.quick else
         dict(steps=8, prompts_per_step=2, n_rollouts=4, max_new_tokens=64, n_eval=10, k=4, seed=0))
    for k, v in d.items():
        if getattr(a, k) is None: setattr(a, k, v)
    items = creative()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(items))
    evalset = [items[i] for i in order[:a.n_eval]]
    train = [items[i] for i in order[a.n_eval:a.n_eval + a.steps * a.prompts_per_step]]
    ev = dict(k=a.k, max_new_tokens=a.max_new_tokens, seed=1000 + a.seed)
    t0, raw = time.time(), {}
    m, t = load(a.model)
    for T in a.temperatures:
        name = 'base (T=1)' if T == 1.0 else f'temperature {T:g}'
        t1 = time.time(); raw[name] = evaluate_creative(m, t, evalset, temperature=T, **ev); raw[name]['seconds'] = time.time() - t1
        print(name, f"diversity {raw[name]['semantic_diversity']:.4f}, quality {raw[name]['quality']:.3f}", flush=True)
    m, t = load(a.model)
    t1 = time.time()
    cfg = LATBConfig(steps=a.steps, prompts_per_step=a.prompts_per_step, n_rollouts=a.n_rollouts, max_new_tokens=a.max_new_tokens,
                     lr=a.lr, logz_lr=2e-2, micro_batch=8, seed=a.seed, progress=False, tensorboard=False)
    r = train_latb(m, train, a.alpha, cfg, tokenizer=t)
    name = f'powerflow a={a.alpha:g}'
    # diversity is embedded and quality scored with the base model (adapters off), as for every other row
    raw[name] = evaluate_creative(r.model, r.tokenizer, evalset, temperature=1.0, **ev)
    raw[name]['seconds'] = time.time() - t1
    raw[name]['train_tokens'] = int(sum(h['length'] * a.prompts_per_step * a.n_rollouts for h in r.history))
    rows = {n: dict(sem_div=v['semantic_diversity'], sem_div_se=v['semantic_diversity_se'], distinct_2=v['distinct_2'],
                    quality=v['quality'], quality_se=v['quality_se'], mean_len=v['length']['mean'], seconds=v['seconds']) for n, v in raw.items()}
    print(format_table(rows, '{:.4g}'))
    print(f"{a.n_eval} held-out creative prompts x {a.k} samples, <= {a.max_new_tokens} tokens; PowerFlow α={a.alpha:g}: "
          f"{a.steps} updates x {a.prompts_per_step} prompts x {a.n_rollouts} rollouts; s.e. over prompts")
    fig = pareto_figure(rows)
    html = Path(__file__).with_name('creativity' + ('_quick' if a.quick else '') + '.html')
    fig.write_html(html, include_plotlyjs='cdn')
    for v in raw.values(): v['texts'] = v['texts'][:8]
    res = dict(args=vars(a), machine=machine(), table=rows, runs=raw, figure=html.name, wall_s=time.time() - t0)
    print('wrote', write_json(__file__, res, '_quick' if a.quick else ''), 'and', html)
    return res

if __name__ == '__main__': main()
