"""The stability study (the paper's Fig. 3) at toy scale, with exact metrics, run through the trainer users run.

Every run is `powerflow_nb.train.train_latb` on a conditional toy LM (4 prompts, 3 letters + EOS, up to 5 tokens, 364
completions per prompt) with `ToyPolicy` (default: the tabular policy, which can represent any distribution, so what
remains is the trainer's), for each objective, α, toy sharpness (flat 0.3, sharp 2.5) and seed. It reports the final KL
to each objective's own fixed point (LA-TB: π* ∝ p^α e^{-λ|y|}; tb_traj and rl_traj: p_α; tb_token: its exact fixed
point), to p_α and to temperature 1/α, the expected length against the base model's and the updates to converge
(first update after which KL to the own fixed point stays <= 0.02 nats), then the worst KL per α and objective, and one
budget < max-length LA-TB case per truncation treatment against its own exact target. Prints tables, writes JSON.

    python benchmarks/toy_stability.py            # full study: 2 toys x 3 α x 4 objectives x 3 seeds, + truncation
    python benchmarks/toy_stability.py --quick    # smoke run: 1 seed, 100 updates (writes toy_stability_quick.json)
    python benchmarks/toy_stability.py --hidden 64  # the MLP policy instead of the table
"""
import argparse, json, math, os, platform, resource, sys, time
from multiprocessing import get_context
from pathlib import Path
import torch
from powerflow_nb.toy import (random_toy, power_logp, temperature_logp, latb_logp, expected_length, kl, format_table,
                              budget_outcomes, outcome_logp, truncation_target)
from powerflow_nb.objectives import ToyPolicy, objective_fixed_point
from powerflow_nb.train import train_latb, toy_config, LATBConfig, TRUNCATIONS
sys.path.insert(0, str(Path(__file__).parent))
from _bench import write_json

TOYS = {'flat': dict(vocab_size=4, max_len=5, n_prompts=4, sharpness=0.3, seed=0),
        'sharp': dict(vocab_size=4, max_len=5, n_prompts=4, sharpness=2.5, seed=0)}
CONVERGED = 0.02
BUDGET = 3  # the truncation case: completions of up to 5 tokens, budget 3

def _init(): torch.set_num_threads(1)

def _fixed_point(job):
    toy, obj, alpha = job
    return job, objective_fixed_point(random_toy(**TOYS[toy]), obj, alpha)

def _run(job):
    "One `train_latb` run; exact metrics of the policy recorded every few updates by a callback."
    toy, obj, alpha, seed, args, fp = job
    lm = random_toy(**TOYS[toy])
    pol = ToyPolicy(lm, hidden=args['hidden'], seed=seed)
    own = fp[0]
    targets = {'power': power_logp(lm, alpha), 'temperature': temperature_logp(lm, alpha)}
    curve, n = {'step': [], 'kl_own': [], 'kl_power': [], 'length': []}, [0]
    def record(m):
        n[0] += 1
        if n[0] % args['curve_every'] and n[0] != args['steps']: return False
        with torch.no_grad(): lp = pol.seq_logp()
        for k, v in (('step', n[0]), ('kl_own', kl(lp, own).mean().item()), ('kl_power', kl(lp, targets['power']).mean().item()),
                     ('length', expected_length(lp, lm.lengths).mean().item())): curve[k].append(v)
        return False
    t0 = time.process_time()
    res = train_latb(pol, None, config=toy_config(alpha, objective=obj, steps=args['steps'], seed=seed, max_new_tokens=lm.max_len),
                     callbacks=[record])
    with torch.no_grad(): lp = pol.seq_logp()
    ok = [k <= CONVERGED for k in curve['kl_own']]
    conv = next((curve['step'][i] for i in range(len(ok)) if all(ok[i:])), None)
    return {'toy': toy, 'objective': obj, 'alpha': alpha, 'seed': seed, 'cpu_s': time.process_time() - t0,
            'kl_own': kl(lp, own).mean().item(), 'kl_own_worst_prompt': kl(lp, own).max().item(),
            'kl_power': kl(lp, targets['power']).mean().item(), 'kl_temp': kl(lp, targets['temperature']).mean().item(),
            'length': expected_length(lp, lm.lengths).mean().item(), 'steps_to_converge': conv,
            'residual_last': res.history[-1].get('residual'), 'curve': curve}

def _truncation(job):
    "LA-TB at α with completions cut at BUDGET tokens, against each treatment's own exact target."
    trunc, alpha, seed, args = job
    lm = random_toy(**TOYS['sharp'])
    ids, olen, fin = budget_outcomes(lm, BUDGET)
    base = outcome_logp(lm.seq_logp, ids)
    res = train_latb(ToyPolicy(lm, hidden=args['hidden'], seed=seed), None,
                     config=toy_config(alpha, steps=args['steps'], seed=seed, max_new_tokens=BUDGET, truncation=trunc))
    with torch.no_grad(): got = outcome_logp(res.model.seq_logp(), ids)
    if trunc == 'mask':  # conditional on finishing: p^α e^{-λ|y|} over finished outcomes, λ = the learned log Z′
        lam = res.logz.value.detach()
        d = kl(got[:, fin].log_softmax(-1), (alpha * base - lam[:, None] * olen)[:, fin].log_softmax(-1))
    else: d = kl(got, truncation_target(lm, BUDGET, alpha, LATBConfig().truncation_penalty if trunc == 'penalty' else 0.0)[0])
    untruncated = latb_logp(lm, alpha)[0]
    return {'truncation': trunc, 'alpha': alpha, 'seed': seed, 'kl_own': d.mean().item(), 'kl_own_worst_prompt': d.max().item(),
            'mass_finished': got[:, fin].exp().sum(-1).mean().item(), 'mass_finished_base': base[:, fin].exp().sum(-1).mean().item(),
            'kl_to_untruncated_pi_star': kl(got, outcome_logp(untruncated, ids)).mean().item(),
            'truncated_frac_last': res.history[-1]['truncated_frac']}

def truncation_table(trunc:list)->str:
    return format_table({f"budget {BUDGET}, α=4, truncation={tr}": {
        'KL own target': sum(r['kl_own'] for r in rs) / len(rs), 'worst': max(r['kl_own_worst_prompt'] for r in rs),
        'mass finished': sum(r['mass_finished'] for r in rs) / len(rs), 'base': rs[0]['mass_finished_base'],
        'KL to untruncated π*': sum(r['kl_to_untruncated_pi_star'] for r in rs) / len(rs)}
        for tr in TRUNCATIONS for rs in [[r for r in trunc if r['truncation'] == tr]] if rs})

def truncation_only(a, args, argv):
    "Rerun the truncation case alone and put it into the existing toy_stability.json (the rest of the study is unchanged)."
    t0 = time.perf_counter()
    with get_context('spawn').Pool(a.workers, initializer=_init) as pool:
        trunc = pool.map(_truncation, [(tr, 4.0, s, args) for tr in TRUNCATIONS for s in range(a.seeds)], chunksize=1)
    path = Path(__file__).with_name(Path(__file__).stem + ('_quick' if a.quick else '') + '.json')
    out = json.loads(path.read_text()) if path.exists() else {}
    out.update(truncation=trunc, truncation_table=truncation_table(trunc), truncation_command='python benchmarks/toy_stability.py ' + ' '.join(argv if argv is not None else sys.argv[1:]),
               truncation_wall_s=time.perf_counter() - t0)
    print(out['truncation_table'])
    print(f"wrote {write_json(__file__, out, '_quick' if a.quick else '')}")

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--quick', action='store_true', help='smoke run: 1 seed, 100 updates')
    p.add_argument('--alphas', type=float, nargs='+', default=[0.5, 2.0, 4.0])
    p.add_argument('--objectives', nargs='+', default=['latb', 'tb_traj', 'rl_traj', 'tb_token'])
    p.add_argument('--toys', nargs='+', default=list(TOYS), choices=list(TOYS))
    p.add_argument('--seeds', type=int, default=3)
    p.add_argument('--steps', type=int, default=2500)
    p.add_argument('--hidden', type=int, default=0, help='ToyPolicy width; 0 (default) is the tabular policy')
    p.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument('--truncation-only', action='store_true', help='rerun only the truncation case and update it in the existing JSON')
    a = p.parse_args(argv)
    if a.quick: a.seeds, a.steps = 1, 100
    if any(not math.isfinite(x) or x <= 0 for x in a.alphas): p.error(f'--alphas must be finite numbers > 0, got {a.alphas}')
    args = dict(steps=a.steps, hidden=a.hidden, curve_every=max(1, a.steps // 60))
    t0, c0 = time.perf_counter(), time.process_time()
    if a.truncation_only: return truncation_only(a, args, argv)
    with get_context('spawn').Pool(a.workers, initializer=_init) as pool:
        fps = dict(pool.map(_fixed_point, [(t, o, al) for t in a.toys for al in a.alphas for o in a.objectives]))
        jobs = [(t, o, al, s, args, fps[t, o, al]) for t in a.toys for al in a.alphas for o in a.objectives for s in range(a.seeds)]
        runs = pool.map(_run, jobs, chunksize=1)
        trunc = pool.map(_truncation, [(tr, 4.0, s, args) for tr in TRUNCATIONS for s in range(a.seeds)], chunksize=1)
    wall = time.perf_counter() - t0
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - c0 + ch.ru_utime + ch.ru_stime

    rows, worst = {}, {}
    for t in a.toys:
        lm = random_toy(**TOYS[t])
        base_len = expected_length(lm.seq_logp, lm.lengths).mean().item()
        for al in a.alphas:
            for o in a.objectives:
                rs = [r for r in runs if (r['toy'], r['objective'], r['alpha']) == (t, o, al)]
                conv = [r['steps_to_converge'] for r in rs]
                mean = lambda k: sum(r[k] for r in rs) / len(rs)
                rows[f'{t} α={al:g} {o}'] = {
                    'KL own': mean('kl_own'), 'KL own worst': max(r['kl_own_worst_prompt'] for r in rs), 'KL p_α': mean('kl_power'),
                    'KL temp': mean('kl_temp'), 'E|y|': mean('length'), 'E|y| own fp': expected_length(fps[t, o, al][0], lm.lengths).mean().item(),
                    'E|y| base': base_len, 'converged': f"{sum(c is not None for c in conv)}/{len(rs)}",
                    'steps conv': str(max(conv)) if all(c is not None for c in conv) else '—'}
                worst[f'α={al:g} {o}'] = max(worst.get(f'α={al:g} {o}', 0.0), max(r['kl_own_worst_prompt'] for r in rs))
    table = format_table(rows)
    worst_table = format_table({k: {'worst KL own (any toy, seed, prompt)': v} for k, v in worst.items()})
    trunc_table = truncation_table(trunc)
    policy = 'tabular' if a.hidden == 0 else f'MLP (hidden {a.hidden})'
    print(f"train_latb on toy LMs {TOYS}; policy: {policy}; {a.steps} updates of 64 prompts x 8 rollouts")
    print(table)
    print(worst_table)
    print(trunc_table)
    print(f"{len(runs) + len(trunc)} runs: wall {wall:.0f} s, CPU {cpu:.0f} s on {a.workers} workers ({platform.machine()}, {os.cpu_count()} cores)")
    out = {'command': 'python benchmarks/toy_stability.py' + (' ' + ' '.join(argv if argv is not None else sys.argv[1:])).rstrip(),
           'toys': TOYS, 'policy': policy, 'config': {**args, 'alphas': a.alphas, 'objectives': a.objectives, 'seeds': a.seeds,
           'train_config': {k: v for k, v in vars(toy_config(1.0)).items() if k != 'alpha'}},
           'converged_threshold_nats': CONVERGED, 'wall_s': wall, 'cpu_s': cpu, 'machine': f"{platform.machine()}, {os.cpu_count()} cores",
           'table': table, 'worst': worst, 'worst_table': worst_table, 'truncation_table': trunc_table, 'runs': runs, 'truncation': trunc}
    print(f"wrote {write_json(__file__, out, '_quick' if a.quick else '')}")

if __name__ == '__main__': main()
