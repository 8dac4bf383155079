"""The stability study (the paper's Fig. 3) at toy scale, with exact metrics.

Trains `powerflow_nb.objectives.ToyPolicy` (a tiny MLP) on-policy against a conditional toy LM with each objective, for
several α and seeds, and reports the final KL to each objective's own fixed point, to p_α and to temperature 1/α, the
expected length against the base model's, and the steps to converge (first step after which KL to the own fixed point
stays <= 0.02 nats). Prints a table and writes benchmarks/toy_stability.json.

    python benchmarks/toy_stability.py            # full study: 3 α x 4 objectives x 3 seeds
    python benchmarks/toy_stability.py --quick    # smoke run: 1 seed, 60 steps (writes toy_stability_quick.json)
"""
import argparse, json, math, os, platform, resource, sys, time
from multiprocessing import get_context
from pathlib import Path
import torch
from powerflow_nb.toy import random_toy, power_logp, temperature_logp, latb_logp, expected_length, format_table
from powerflow_nb.objectives import OBJECTIVES, ToyPolicy, train_toy, objective_fixed_point

TOY = dict(vocab_size=4, max_len=5, n_prompts=4, sharpness=0.3, seed=0)
CONVERGED = 0.02

def _init():
    torch.set_num_threads(1)

def _fixed_point(job):
    obj, alpha = job
    lm = random_toy(**TOY)
    lp, z = objective_fixed_point(lm, obj, alpha)
    return job, (lp, z)

def _run(job):
    obj, alpha, seed, args, fp = job
    lm = random_toy(**TOY)
    t0 = time.process_time()
    hist, _ = train_toy(lm, obj, alpha, steps=args['steps'], batch_size=args['batch_size'], lr=args['lr'], logz_lr=args['logz_lr'],
                        seed=seed, policy=ToyPolicy(lm, hidden=args['hidden'], seed=seed), group_size=args['group_size'], fixed_point=fp)
    kls = [h['kl_own'] for h in hist]
    ok = [k <= CONVERGED for k in kls]
    conv = next((i + 1 for i in range(len(ok)) if all(ok[i:])), None)
    last = hist[-1]
    return {'objective': obj, 'alpha': alpha, 'seed': seed, 'cpu_s': time.process_time() - t0,
            'kl_own': last['kl_own'], 'kl_power': last['kl_power'], 'kl_temp': last['kl_temp'], 'kl_latb': last['kl_latb'],
            'length': last['length'], 'entropy': last['entropy'], 'steps_to_converge': conv,
            'logz': last['logz'], 'logz_exact': last['logz_exact'],
            'curve': {k: [h[k] for h in hist[::args['curve_every']]] for k in ('step', 'kl_own', 'kl_power', 'length')}}

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--quick', action='store_true', help='smoke run: 1 seed, 60 steps')
    p.add_argument('--alphas', type=float, nargs='+', default=[0.5, 2.0, 4.0])
    p.add_argument('--objectives', nargs='+', default=['latb', 'tb_traj', 'rl_traj', 'tb_token'], choices=sorted(OBJECTIVES))
    p.add_argument('--seeds', type=int, default=3)
    p.add_argument('--steps', type=int, default=600)
    p.add_argument('--batch-size', type=int, default=128)
    p.add_argument('--group-size', type=int, default=8)
    p.add_argument('--lr', type=float, default=1e-2)
    p.add_argument('--logz-lr', type=float, default=1e-1)
    p.add_argument('--hidden', type=int, default=64)
    p.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument('--out', default=None, help='JSON path (default benchmarks/toy_stability.json, or toy_stability_quick.json with --quick)')
    a = p.parse_args(argv)
    if a.quick: a.seeds, a.steps = 1, 60
    a.out = a.out or str(Path(__file__).with_name('toy_stability_quick.json' if a.quick else 'toy_stability.json'))
    if any(not math.isfinite(x) or x <= 0 for x in a.alphas): p.error(f'--alphas must be finite numbers > 0, got {a.alphas}')
    args = dict(steps=a.steps, batch_size=a.batch_size, group_size=a.group_size, lr=a.lr, logz_lr=a.logz_lr, hidden=a.hidden,
                curve_every=max(1, a.steps // 60))
    t0, c0 = time.perf_counter(), time.process_time()
    with get_context('spawn').Pool(a.workers, initializer=_init) as pool:
        fps = dict(pool.map(_fixed_point, [(o, al) for al in a.alphas for o in a.objectives]))
        runs = pool.map(_run, [(o, al, s, args, fps[o, al]) for al in a.alphas for o in a.objectives for s in range(a.seeds)], chunksize=1)
    wall = time.perf_counter() - t0
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - c0 + ch.ru_utime + ch.ru_stime

    lm = random_toy(**TOY)
    base_len = expected_length(lm.seq_logp, lm.lengths).mean().item()
    refs = {al: {'p_alpha': expected_length(power_logp(lm, al), lm.lengths).mean().item(),
                 'latb_fixed_point': expected_length(latb_logp(lm, al)[0], lm.lengths).mean().item(),
                 'temperature': expected_length(temperature_logp(lm, al), lm.lengths).mean().item()} for al in a.alphas}
    rows, summary = {}, []
    for al in a.alphas:
        for o in a.objectives:
            rs = [r for r in runs if r['objective'] == o and r['alpha'] == al]
            conv = [r['steps_to_converge'] for r in rs]
            mean = lambda k: sum(r[k] for r in rs) / len(rs)
            own_len = expected_length(fps[o, al][0], lm.lengths).mean().item()
            row = {'KL own': mean('kl_own'), 'KL own max': max(r['kl_own'] for r in rs), 'KL p_α': mean('kl_power'),
                   'KL temp': mean('kl_temp'), 'E|y|': mean('length'), 'E|y| own fp': own_len, 'E|y| base': base_len,
                   'converged': f"{sum(c is not None for c in conv)}/{len(rs)}",
                   'steps conv': str(max(conv)) if all(c is not None for c in conv) else '—'}
            rows[f'α={al:g} {o}'] = row
            summary.append({'alpha': al, 'objective': o, **{k: v for k, v in row.items()}})
    table = format_table(rows)
    print(f"toy LM {TOY}: base E|y| = {base_len:.3f}")
    for al, r in refs.items(): print(f"  α={al:g}: E|y| under p_α {r['p_alpha']:.3f}, LA-TB π* {r['latb_fixed_point']:.3f}, temperature 1/α {r['temperature']:.3f}")
    print(table)
    print(f"{len(runs)} runs x {a.steps} steps, batch {a.batch_size}: wall {wall:.0f} s, CPU {cpu:.0f} s on {a.workers} workers ({platform.machine()}, {os.cpu_count()} cores)")
    if 'latb' in a.objectives and not a.quick:
        worst = max(r['kl_own'] for r in runs if r['objective'] == 'latb')
        print(f"latb: worst final KL to its fixed point {worst:.4f} nats ({'<=' if worst <= CONVERGED else '>'} {CONVERGED})")
    out = {'command': 'python benchmarks/toy_stability.py' + (' ' + ' '.join(argv if argv is not None else sys.argv[1:])).rstrip(),
           'toy': TOY, 'config': {**args, 'alphas': a.alphas, 'objectives': a.objectives, 'seeds': a.seeds, 'workers': a.workers},
           'converged_threshold_nats': CONVERGED, 'base_length': base_len, 'reference_lengths': {str(k): v for k, v in refs.items()},
           'fixed_points': {'latb': 'exact LA-TB pi* (latb_logp)', 'tb_traj': 'p_alpha', 'rl_traj': 'p_alpha',
                            'tb_token': 'exact_fixed_point (tabular semi-gradient iteration)', 'rl_token': 'exact_fixed_point (tabular semi-gradient iteration)'},
           'wall_s': wall, 'cpu_s': cpu, 'machine': f"{platform.machine()}, {os.cpu_count()} cores", 'table': table,
           'summary': summary, 'runs': runs}
    Path(a.out).write_text(json.dumps(out, indent=1, ensure_ascii=False))
    print(f"wrote {a.out}")

if __name__ == '__main__': main()
