"Smoke tests: every benchmark runs end to end in --quick mode on the tiny random model (plumbing only, never wall time; SmolLM2 runs are the benchmarks themselves)."
import json, subprocess, sys
from pathlib import Path
import pytest

BENCH = Path(__file__).resolve().parents[1] / 'benchmarks'

@pytest.mark.slow
@pytest.mark.parametrize('script', ['step_time.py', 'throughput.py', 'reasoning.py', 'creativity.py'])
def test_benchmark_quick(script):
    # resumable benchmarks start over rather than continue an older quick run; throughput runs its bf16 path on any CPU
    extra = {'step_time.py': ['--model', 'tiny'], 'throughput.py': ['--dtypes', 'float32', 'bfloat16']}.get(script, ['--fresh', '--model', 'tiny'])
    p = subprocess.run([sys.executable, str(BENCH / script), '--quick', *extra], cwd=BENCH, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    out = BENCH / (Path(script).stem + '_quick.json')
    assert out.exists()
    res = json.loads(out.read_text())
    assert res['wall_s'] > 0  # the run records its wall time; no bound on it (a loaded machine must not fail)
    if script == 'step_time.py': assert res['ratio']['median'] > 0
    elif script == 'throughput.py':
        assert res['copy_bandwidth'] > 0 and {'decode float32 ours', 'decode float32 hf', 'prefill float32', 'train fwd+bwd float32 joined',
                                              'train fwd+bwd float32 shared', 'draw 1 token/row draw_tokens'} <= set(res['rows'])
        assert all(r['x floor'] > 0 for r in res['rows'].values() if 'x floor' in r)
        assert {'decode bfloat16 ours', 'train fwd+bwd bfloat16 shared'} <= set(res['rows']) and 'bf16/fp32 decode (ours)' in res['ratios']
        assert all(res['ratios'][f'LoRA folded/plain decode {d}'] > 0 for d in ('float32', 'bfloat16'))
        assert set(res['step_time']) == {'float32', 'bfloat16'} and all(st['ratio']['median'] > 0 for st in res['step_time'].values())
    else: assert res['table']

@pytest.mark.slow
def test_amortisation_quick():
    "The amortisation study end to end: the decoding lines from reasoning.py, then a resumable run with evaluations and the figure."
    lines = ['base T=1', 'base T=1/4', 'base greedy', 'mh a=4', 'smc a=4']
    for cmd in (['reasoning.py', '--quick', '--fresh', '--model', 'tiny', '--methods', *lines], ['amortisation.py', '--quick', '--model', 'tiny']):
        p = subprocess.run([sys.executable, str(BENCH / cmd[0]), *cmd[1:]], cwd=BENCH, capture_output=True, text=True)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    res = json.loads((BENCH / 'amortisation_quick.json').read_text())
    assert res['curve']['step'] == [0, 2, 4] and res['curve']['train_tokens'][0] == 0
    assert set(res['lines']) == set(lines) and (BENCH / 'amortisation_quick_strict.html').exists()
    assert all(len(t) == len(res['curve']['texts'][0]) for t in res['curve']['texts'])

@pytest.mark.slow
def test_stability_quick():
    "The stability study end to end on the tiny model: every arm trains and is evaluated, the JSON holds curves, verdicts and the figure."
    p = subprocess.run([sys.executable, str(BENCH / 'stability.py'), '--quick'], cwd=BENCH, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    res = json.loads((BENCH / 'stability_quick.json').read_text())
    want = {f"{arm.replace(' ', '_')}-s{seed}" for arm, spec in res['arms'].items() for seed in spec['seeds']}
    assert set(res['runs']) == want and set(res['verdicts']) == want
    for r in res['runs'].values():
        assert [pt['step'] for pt in r['points']] == [0, 2, 4] and r['updates'] == 4
        assert all(0 <= pt['truncated'] <= 1 for pt in r['points'][1:])
        # distinct completions per group come from the LA-TB trainer's metrics; TRL does not hand its completions to callbacks
        assert all(pt['distinct'] is None if r['arm'] == 'grpo' else 0 <= pt['distinct'] <= 1 for pt in r['points'][1:])
    assert 0 <= res['base']['truncated'] <= 1 and (BENCH / 'stability_quick.html').exists()

def test_stability_degenerate_answers():
    "The stability study's degenerate-completion check: empty, one token, or the question's own expression (boxed or bare)."
    sys.path.insert(0, str(BENCH))
    from stability import degenerate
    q = 'What is 64 + 95? Reply with the final answer in \\boxed{}.'
    assert degenerate('', 1, q) and degenerate('7', 2, q) and degenerate('\\boxed{64 + 95}', 9, q) and degenerate('64+95', 6, q)
    assert not degenerate('64 + 95 = 159', 8, q) and not degenerate('\\boxed{159}', 6, q) and not degenerate('64 + 95 = \\boxed{159}', 12, q)

def test_stability_drift_tests():
    """The drift test tells noise from drift: a flat run with a wide spread passes it (and shows how rarely the ±30 % check would),
    a run that steps up by half or ramps by 60 % fails it, and the trend interval covers 0 only for the flat run."""
    sys.path.insert(0, str(BENCH))
    import numpy as np
    from stability import drift_tests, window_drift
    rng = np.random.default_rng(1)
    flat = list(rng.gamma(4, 4, 300))  # mean 16 tokens, sd 8 per update: LA-TB's settled spread at 8 rollouts per update
    t = drift_tests(flat)
    assert t['drift p'] > 0.05 and t['trend lo'] < 0 < t['trend hi'] and t['pass if flat'] < 0.5 and abs(t['lag-1 ac']) < 0.2
    step = [x * (1.5 if i >= 150 else 1) for i, x in enumerate(flat)]
    ramp = [x * (1 + 0.6 * max(i - 50, 0) / 250) for i, x in enumerate(flat)]
    for L in (step, ramp): assert drift_tests(L)['drift p'] < 0.05 and drift_tests(L)['trend lo'] > 0
    assert window_drift(np.array([10.] * 10 + [13.] * 10 + [7.] * 10)) == pytest.approx(0.3)
    assert drift_tests(flat[:60]) == {}  # too short to test

@pytest.mark.slow
def test_gpu_qlora_tiny():
    "The GPU benchmark's code path on a tiny Qwen2 on the CPU: PowerFlow after and before, TRL's GRPOTrainer beside it, LoRA and QLoRA."
    p = subprocess.run([sys.executable, str(BENCH / 'gpu_qlora.py'), '--tiny', '--steps', '2', '--max-new-tokens', '8', '--prompts-per-step', '2',
                        '--n-rollouts', '2'], cwd=BENCH, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    res = json.loads((BENCH / 'gpu_qlora_tiny.json').read_text())
    assert {f'{q}{s}' for q in ('LoRA bf16', 'QLoRA nf4') for s in ('', ' before', ' TRL GRPO')} == set(res['rows'])
    assert all(r['tokens/s'] > 0 for r in res['rows'].values()) and set(res['agreement']) == {'LoRA bf16', 'QLoRA nf4'}
