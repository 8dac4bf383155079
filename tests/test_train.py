"train_latb: kill-and-resume reproduces an uninterrupted run; data-parallel runs under accelerate stay in sync."
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest, torch
from safetensors.torch import load_file

HERE = Path(__file__).parent
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'TOKENIZERS_PARALLELISM': 'false'}

def run(*args, **kw): return subprocess.run([sys.executable, str(HERE / 'tiny_run.py'), *args], env=ENV, check=True, capture_output=True, text=True, **kw)
def adapter(out): return load_file(Path(out) / 'adapter' / 'adapter_model.safetensors')

def test_sigkill_then_resume_reproduces_the_uninterrupted_run(tmp_path):
    full, killed = tmp_path / 'full', tmp_path / 'killed'
    run('--out', str(full))
    p = subprocess.Popen([sys.executable, str(HERE / 'tiny_run.py'), '--out', str(killed)], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = killed / 'checkpoints' / 'latest'
    deadline = time.time() + 900  # a guard against a hang, not a speed bound
    while not (latest.exists() and latest.read_text().strip() == 'step-000003'):
        assert p.poll() is None, 'run ended before its first checkpoint'
        assert time.time() < deadline; time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    assert not (killed / 'adapter').exists()
    with pytest.raises(subprocess.CalledProcessError) as e: run('--out', str(killed))
    assert 'resume=True' in e.value.stderr
    run('--out', str(killed), '--resume')
    a, b = adapter(full), adapter(killed)
    assert a.keys() == b.keys() and len(a) > 0
    for k in a: torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    steps = [json.loads(l)['step'] for l in (killed / 'metrics.jsonl').read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]

def test_sigterm_writes_a_checkpoint(tmp_path):
    out = tmp_path / 'run'
    p = subprocess.Popen([sys.executable, str(HERE / 'tiny_run.py'), '--out', str(out), '--steps', '1000', '--save-every', '1000'], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    metrics, deadline = out / 'metrics.jsonl', time.time() + 900  # a guard against a hang, not a speed bound
    while not (metrics.exists() and metrics.read_text().count('\n') >= 2):
        assert p.poll() is None and time.time() < deadline; time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) != 0
    ck = (out / 'checkpoints' / 'latest').read_text().strip()
    assert int(ck.split('-')[1]) >= 2

def test_two_process_accelerate_run_keeps_ranks_identical(tmp_path):
    cmd = [sys.executable, '-m', 'accelerate.commands.launch', '--multi_gpu', '--num_processes', '2', '--main_process_port', str(29500 + os.getpid() % 1000), '--num_machines', '1',
           '--mixed_precision', 'no', '--dynamo_backend', 'no', str(HERE / 'tiny_run.py'),
           '--out', str(tmp_path / 'run'), '--steps', '4', '--dump', str(tmp_path / 'dump')]
    r = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / 'dump' / f'rank{i}.pt') for i in (0, 1))
    assert r0.keys() == r1.keys() and len(r0) > 0
    for k in r0: torch.testing.assert_close(r0[k], r1[k], rtol=0, atol=0)
    init = torch.load(tmp_path / 'dump' / 'rank0.pt')
    assert any(v.abs().sum() > 0 for k, v in init.items() if 'lora_B' in k)  # the adapters did train

def test_gradient_checkpointing_gives_the_same_update():
    """A model with gradient checkpointing on (as QLoRA recipes set it): transformers then drops the KV cache in the training
    forward, so the shared-prompt scoring must fall back to the joined forward; the first update equals the run without it."""
    from powerflow_nb.models import tiny_lm
    from powerflow_nb.train import LATBConfig, train_latb
    cfg = LATBConfig(alpha=2.0, steps=1, prompts_per_step=2, n_rollouts=2, max_new_tokens=6, lr=1e-3, truncation='keep',
                     progress=False, tensorboard=False)
    first = []
    for on in (False, True):
        m, t = tiny_lm()
        if on: (getattr(m, 'activation_checkpointing_enable', None) or m.gradient_checkpointing_enable)()
        first.append(train_latb(m, ['1+1=', '2+3=', 'hello'], config=cfg, tokenizer=t).history[0])
    for k in ('loss', 'grad_norm', 'residual', 'clip_frac'): assert abs(first[0][k] - first[1][k]) <= 1e-4 * max(1, abs(first[0][k])), k
