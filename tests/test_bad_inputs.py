"""Bad input and faults at the public boundary of lm, train and the CLI: each is refused with a message naming the
input (expected fragment in each row), or recovered from without losing a finished step."""
import errno, json, math, shutil, subprocess, sys, warnings
from pathlib import Path
import pytest, torch
from powerflow_nb.models import tiny_lm
from powerflow_nb.lm import sample
from powerflow_nb.train import LATBConfig, train_latb
from powerflow_nb.runs import find_checkpoint, save_checkpoint
from powerflow_nb.policy import HFPolicy
import powerflow_nb.policy as policy_mod
from powerflow_nb.cli import main
from powerflow_nb.core import DiskFull
from powerflow_nb.callbacks import Callback

PROMPTS = ['1+1=', '2+3=', 'hello']

def cfg(out=None, **kw):
    base = dict(alpha=2.0, steps=3, prompts_per_step=1, n_rollouts=2, max_new_tokens=4, save_every=1, lr=1e-3, truncation='keep',
                out_dir=None if out is None else str(out), progress=False, tensorboard=False)
    return LATBConfig(**(base | kw))

def run(out=None, model=None, prompts=PROMPTS, **kw):
    m, t = model or tiny_lm()
    return train_latb(m, prompts, config=cfg(out, **kw), tokenizer=t)

def raises(fn, fragment, exc=ValueError):
    with pytest.raises(exc) as e: fn()
    assert fragment in str(e.value), str(e.value)

# ---- LATBConfig: every field validated, naming the field ------------------------------------------------------------
CONFIG_CASES = [
    (dict(alpha=True), 'alpha must be'), (dict(alpha=0), 'alpha must be'), (dict(alpha=-1.0), 'alpha must be'),
    (dict(alpha=math.nan), 'alpha must be'), (dict(alpha='four'), 'alpha must be'), (dict(alpha=math.inf), 'alpha must be'),
    (dict(objective='ppo'), 'objective must be one of'), (dict(steps=0), 'steps must be an int >= 1'),
    (dict(steps=2.5), 'steps must be an int'), (dict(steps=True), 'steps must be an int'),
    (dict(prompts_per_step=0), 'prompts_per_step'), (dict(n_rollouts=0), 'n_rollouts'), (dict(max_new_tokens=-5), 'max_new_tokens'),
    (dict(lr=0), 'lr must be a finite number'), (dict(lr=math.inf), 'lr must be a finite number'),
    (dict(lr=math.nan), 'lr must be a finite number'), (dict(lr=-1e-4), 'lr must be'), (dict(lr='1e-4'), 'lr must be'),
    (dict(logz_lr=math.inf), 'logz_lr'), (dict(warmup_steps=-1), 'warmup_steps must be an int >= 0'),
    (dict(max_grad_norm=0), 'max_grad_norm'), (dict(micro_batch=0), 'micro_batch'), (dict(updates_per_batch=0), 'updates_per_batch'),
    (dict(clip_eps=0), 'clip_eps'), (dict(clip_eps=1.5), 'clip_eps'), (dict(format_penalty=0.5), 'format_penalty'),
    (dict(lora_r=0), 'lora_r'), (dict(lora_alpha=0), 'lora_alpha'), (dict(lora_alpha=-8), 'lora_alpha'),
    (dict(lora_dropout=-0.1), 'lora_dropout'), (dict(lora_dropout=1.0), 'lora_dropout'), (dict(quantize='4-bit'), 'quantize'),
    (dict(logz='mlp'), 'logz must be'), (dict(chat='yes'), 'chat must be True or False'), (dict(temperature=0), 'temperature'),
    (dict(seed=-1), 'seed must be an int in [0, '), (dict(out_dir=''), 'out_dir must be'), (dict(target_modules=''), 'target_modules'),
    (dict(save_every=0), 'save_every'), (dict(max_nonfinite=0), 'max_nonfinite'),
    (dict(objective='rl_traj', n_rollouts=1), 'one rollout gives a zero loss'),
    (dict(objective='rl_token', n_rollouts=1), 'one rollout gives a zero loss'),
    (dict(resume=True), 'need an out_dir'), (dict(overwrite=True), 'need an out_dir'),
    (dict(resume=True, overwrite=True, out_dir='x'), 'contradict'),
]

@pytest.mark.parametrize('kw, fragment', CONFIG_CASES, ids=[str(k) for k, _ in CONFIG_CASES])
def test_config_rejects(kw, fragment): raises(lambda: LATBConfig(**kw), fragment)

# ---- train_latb arguments ---------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def tiny(): return tiny_lm()

@pytest.mark.parametrize('call, fragment, exc', [
    (lambda m, t: train_latb(m, PROMPTS, 2.0, config={'steps': 1}, tokenizer=t), 'config must be a LATBConfig', TypeError),
    (lambda m, t: train_latb(m, PROMPTS, config=LATBConfig(steps=1), tokenizer=t), 'alpha is required', ValueError),
    (lambda m, t: train_latb(m, PROMPTS, 2.0, config=LATBConfig(alpha=3.0), tokenizer=t), 'differs from config.alpha', ValueError),
    (lambda m, t: train_latb(m, PROMPTS, True, tokenizer=t), 'alpha must be', ValueError),
    (lambda m, t: train_latb(m, [], 2.0, tokenizer=t), 'empty', ValueError),
    (lambda m, t: train_latb(m, ['ok', '  '], 2.0, tokenizer=t), 'non-empty string', ValueError),
    (lambda m, t: train_latb(m, PROMPTS, 2.0), 'tokenizer is required', ValueError),
], ids=['config-dict', 'no-alpha', 'two-alphas', 'alpha-bool', 'no-prompts', 'blank-prompt', 'no-tokenizer'])
def test_train_arguments(tiny, call, fragment, exc): raises(lambda: call(*tiny), fragment, exc)

def test_out_dir_that_is_a_file(tmp_path):
    (tmp_path / 'f').write_text('x')
    raises(lambda: run(tmp_path / 'f'), 'exists and is not a folder')

# ---- the run folder: never overwritten, resumed only as itself ---------------------------------------------------------
def test_finished_run_without_checkpoints_is_never_overwritten(tmp_path):
    out = tmp_path / 'run'
    run(out, steps=2, save_every=50)
    assert not (out / 'checkpoints').exists() and (out / 'adapter' / 'run.json').exists()
    before = (out / 'adapter' / 'adapter_model.safetensors').read_bytes(), (out / 'metrics.jsonl').read_text()
    raises(lambda: run(out, steps=2, save_every=50, seed=5), 'already holds a run (adapter, metrics.jsonl)')
    assert ((out / 'adapter' / 'adapter_model.safetensors').read_bytes(), (out / 'metrics.jsonl').read_text()) == before
    raises(lambda: run(out, steps=2, save_every=50, resume=True), 'holds no checkpoint to resume from')
    run(out, steps=2, save_every=50, seed=5, overwrite=True)  # explicit: replaced
    assert (out / 'adapter' / 'adapter_model.safetensors').read_bytes() != before[0]
    assert [json.loads(l)['step'] for l in (out / 'metrics.jsonl').read_text().splitlines()] == [1, 2]

@pytest.mark.parametrize('make, fragment', [(lambda p: None, 'does not exist'), (lambda p: p.mkdir(), 'holds no run')], ids=['missing', 'empty'])
def test_resume_needs_a_run(tmp_path, make, fragment):
    make(tmp_path / 'run')
    raises(lambda: run(tmp_path / 'run', resume=True), fragment)

@pytest.fixture(scope='module')
def done(tmp_path_factory):
    "A finished 3-step run with checkpoints at steps 2 and 3."
    out = tmp_path_factory.mktemp('done') / 'run'
    run(out)
    return out

@pytest.mark.parametrize('change, fragment', [
    (dict(alpha=3.0), 'alpha=2.0 (now 3.0)'), (dict(lr=5e-3), 'lr=0.001 (now 0.005)'), (dict(n_rollouts=3), 'n_rollouts=2 (now 3)'),
    (dict(model=tiny_lm(seed=1)), 'base model LlamaForCausalLM'), (dict(prompts=PROMPTS[:2]), 'prompt set checksum'),
], ids=['alpha', 'lr', 'n_rollouts', 'base-model', 'prompt-set'])
def test_resume_checks_identity(done, change, fragment):
    kw = dict(steps=4, resume=True) | change
    model, prompts = kw.pop('model', None), kw.pop('prompts', PROMPTS)
    raises(lambda: run(done, model=model, prompts=prompts, **kw), fragment)

def test_a_second_process_is_refused_with_the_holders_pid(tmp_path):
    out = tmp_path / 'run'
    out.mkdir()
    holder = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        (out / '.lock').write_text(str(holder.pid))
        raises(lambda: run(out), f'in use by process {holder.pid}')
    finally: holder.kill(); holder.wait()
    with pytest.warns(UserWarning, match='stale lock'): run(out, steps=1)  # the holder is gone: its lock is taken over
    assert not (out / '.lock').exists()

# ---- non-finite weights, updates and base log-probs -------------------------------------------------------------------
def _poisoned(where):
    m, t = tiny_lm()
    if where == 'lora':
        from peft import LoraConfig, get_peft_model
        m = get_peft_model(m, LoraConfig(r=2, target_modules='all-linear'))
        with torch.no_grad(): next(p for n, p in m.named_parameters() if 'lora_B' in n).fill_(math.nan)
    else:
        with torch.no_grad():
            if where == 'lm_head': m.lm_head.weight[5] = math.nan
            else: m.model.layers[1].mlp.up_proj.weight[0, 0] = math.inf
    return m, t

@pytest.mark.parametrize('where, fragment', [('base', 'layers.1.mlp.up_proj.base_layer.weight (1 values)'), ('lm_head', 'lm_head.weight (32 values)'),
                                             ('lora', 'lora_B.default.weight')])
def test_nonfinite_weights_are_named_before_training(where, fragment):
    raises(lambda: run(model=_poisoned(where)), fragment)

@pytest.mark.parametrize('where, fragment', [('base', 'model.layers.1.mlp.up_proj.weight'), ('lm_head', 'lm_head.weight')])
def test_nonfinite_weights_are_named_before_sampling(where, fragment):
    m, t = _poisoned(where)
    raises(lambda: sample(m, t, PROMPTS, max_new_tokens=4), fragment)

def test_nonfinite_base_logprobs_stop_the_run(monkeypatch):
    monkeypatch.setattr(policy_mod, 'score', lambda model, s, batch_size=None: torch.full(s.logp.shape, math.nan))
    raises(lambda: run(), "base model's log-probs of the rollouts are not finite")

def test_an_update_that_overflows_is_undone_and_never_checkpointed(tmp_path):
    out = tmp_path / 'run'
    raises(lambda: run(out, lr=1e39, max_nonfinite=2), '2 non-finite updates in a row', RuntimeError)
    lines = [json.loads(l) for l in (out / 'metrics.jsonl').read_text().splitlines()]
    assert [l['undone'] for l in lines] == [True, True]
    from safetensors.torch import load_file
    for ck in (out / 'checkpoints').glob('step-*'):  # what was checkpointed is the restored, finite state
        assert all(torch.isfinite(v).all() for v in load_file(ck / 'adapter' / 'adapter_model.safetensors').values())
    assert not (out / '.lock').exists()

def test_save_checkpoint_refuses_nonfinite_parameters(tmp_path):
    m, t = _poisoned('lora')
    raises(lambda: save_checkpoint(tmp_path, 1, HFPolicy(m, t), torch.nn.Linear(1, 1), None, None, {}), 'refusing to checkpoint step 1')
    assert not (tmp_path / 'checkpoints' / 'step-000001').exists()

# ---- damaged checkpoints: resume falls back to the newest intact one ----------------------------------------------------
def _flip(p:Path):
    b = bytearray(p.read_bytes()); b[len(b) // 2] ^= 0x10; p.write_bytes(bytes(b))

def _truncate(p:Path): p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])

@pytest.mark.parametrize('damage, warning, resumed_from', [
    (lambda ck: _truncate(ck / 'step-000003' / 'adapter' / 'adapter_model.safetensors'), 'adapter_model.safetensors is corrupt', 2),
    (lambda ck: _flip(ck / 'step-000003' / 'state.pt'), 'state.pt is corrupt', 2),
    (lambda ck: (ck / 'step-000003' / 'manifest.json').unlink(), 'manifest.json is missing', 2),
    (lambda ck: (ck / 'latest').write_text(''), 'latest is empty', 3),
    (lambda ck: (ck / 'latest').write_text('step-000009'), 'names step-000009, which does not exist', 3),
], ids=['truncated-adapter', 'bit-flipped-optimizer-state', 'missing-manifest', 'empty-latest', 'dangling-latest'])
def test_resume_skips_damaged_checkpoints(tmp_path, damage, warning, resumed_from):
    out = tmp_path / 'run'
    run(out)
    damage(out / 'checkpoints')
    with pytest.warns(UserWarning, match='resuming from') as w: res = run(out, steps=4, resume=True)
    assert warning in ' '.join(str(x.message) for x in w)
    assert [h['step'] for h in res.history] == list(range(resumed_from + 1, 5))
    assert [json.loads(l)['step'] for l in (out / 'metrics.jsonl').read_text().splitlines()] == [1, 2, 3, 4]

def test_no_intact_checkpoint_names_the_files(tmp_path):
    out = tmp_path / 'run'
    run(out)
    for s in ('step-000002', 'step-000003'): _flip(out / 'checkpoints' / s / 'state.pt')
    raises(lambda: run(out, steps=4, resume=True), 'no intact checkpoint')

def test_truncated_metrics_line_and_orphans_are_cleaned(tmp_path):
    out = tmp_path / 'run'
    run(out)
    with open(out / 'metrics.jsonl', 'a') as f: f.write('{"step": 4, "loss": 0.1')  # a write cut short
    (out / 'checkpoints' / '.step-000004.partial-abc').mkdir()
    (out / 'checkpoints' / '.latest.tmp-4242').write_text('step-000004')
    (out / '.metrics.jsonl.tmp-4242').write_text('')
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        run(out, steps=4, resume=True)
    said = ' '.join(str(x.message) for x in w)
    assert 'dropping unreadable line 4' in said and 'leftovers of interrupted saves' in said
    assert [json.loads(l)['step'] for l in (out / 'metrics.jsonl').read_text().splitlines()] == [1, 2, 3, 4]
    assert not [p for p in (out / 'checkpoints').iterdir() if p.name.startswith('.')]

def test_full_disk_says_so_and_keeps_latest(tmp_path, monkeypatch):
    out = tmp_path / 'run'
    run(out)
    def full(*a, **k): raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(torch, 'save', full)
    raises(lambda: run(out, steps=4, resume=True), 'no space left on device while writing checkpoint', OSError)
    monkeypatch.undo()
    assert (out / 'checkpoints' / 'latest').read_text() == 'step-000003' and find_checkpoint(out).name == 'step-000003'
    assert not [p for p in (out / 'checkpoints').iterdir() if p.name.startswith('.')]

@pytest.fixture
def small_disk(tmp_path):
    "A real 4 MiB file system (tmpfs); skipped where this process may not mount one."
    d = tmp_path / 'disk'
    d.mkdir()
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', str(d)], capture_output=True, text=True)
    if r.returncode: pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip() or r.returncode}")
    yield d
    subprocess.run(['umount', '-l', str(d)], check=False)

# bytes left free on a full disk -> the write that hits it: the run's own files, the adapter (safetensors), state.pt (torch)
@pytest.mark.parametrize('leave, failing', [(0, 'the run folder'), (16384, 'SafetensorError'), (100_000, 'state.pt')])
def test_real_full_disk_says_so_and_resumes(small_disk, leave, failing):
    out = small_disk / 'run'
    run(out)
    filler = small_disk / 'filler'
    try:
        with open(filler, 'wb') as f: f.write(b'\0' * max(0, shutil.disk_usage(small_disk).free - leave))
    except OSError: pass  # the disk is as full as it gets
    with pytest.raises(DiskFull) as e: run(out, steps=4, resume=True)
    said = f"{e.value} {type(e.value.__cause__).__name__} {e.value.__cause__}"
    assert 'no space left on device while writing' in said and 'Free some space and resume' in said, said
    assert failing in said or (failing == 'state.pt' and type(e.value.__cause__) is OSError), said  # each library's way to fail is caught
    assert (out / 'checkpoints' / 'latest').read_text() == 'step-000003' and find_checkpoint(out).name == 'step-000003'
    filler.unlink()
    assert run(out, steps=4, resume=True).history[-1]['step'] == 4  # nothing lost: the run goes on once space is free

def test_latest_replaced_by_a_folder(tmp_path):
    out = tmp_path / 'run'
    run(out)
    latest = out / 'checkpoints' / 'latest'
    latest.unlink(); latest.mkdir()
    raises(lambda: run(out, steps=4, resume=True), 'must be the file naming the newest checkpoint, but it is a folder')
    class Replace(Callback):  # mid-run: someone puts a folder in `latest`'s place after the first checkpoint
        def on_step_end(self, trainer, m):
            if latest.is_file(): latest.unlink(); latest.mkdir()
    latest.rmdir()
    m, t = tiny_lm()
    raises(lambda: train_latb(m, PROMPTS, config=cfg(out, steps=6, overwrite=True), tokenizer=t, callbacks=[Replace()]), 'but it is a folder')
    assert len(list((out / 'checkpoints').glob('step-*'))) == 2  # the checkpoint written before `latest` was refused is there
    latest.rmdir()
    assert run(out, steps=6, resume=True).history[-1]['step'] == 6  # the checkpoint written before the refusal is resumed from

def test_quantize_is_what_was_trained(tmp_path, tiny_dir):
    raises(lambda: run(quantize='4bit'), "quantize='4bit' applies when a model name is given, but the model passed in is not quantised")
    from powerflow_nb.models import load_lm
    m4 = load_lm(tiny_dir, quantize='4bit', device='cpu')
    raises(lambda: run(model=m4, quantize='8bit'), 'is loaded in 4bit')
    run(tmp_path / 'q', model=m4, steps=1)  # a 4-bit model with quantize unset: run.json records 4bit
    assert json.loads((tmp_path / 'q' / 'adapter' / 'run.json').read_text())['config']['quantize'] == '4bit'

# ---- lm.sample ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('kw, fragment', [
    (dict(prompts=''), 'is empty'), (dict(prompts=['hi', ' ']), 'prompts[1] is empty'), (dict(prompts=[]), 'non-empty list'),
    (dict(prompts=[[]]), 'prompts[0] is empty'), (dict(prompts=[3]), 'must be a string or a list of chat messages'),
    (dict(max_new_tokens=1020), "exceeds the model's context of 1024 tokens"), (dict(prompts=['x' * 1100]), "exceeds the model's context"),
    (dict(n=0), 'n must be an int >= 1'), (dict(n=True), 'n must be an int >= 1'), (dict(max_new_tokens=0), 'max_new_tokens'),
    (dict(temperature=-1.0), 'temperature'), (dict(temperature=math.nan), 'temperature'), (dict(top_p=0), 'top_p'),
    (dict(top_p=1.5), 'top_p'), (dict(batch_size=0), 'batch_size'),
], ids=lambda v: str(v)[:40])
def test_sample_rejects(tiny, kw, fragment):
    kw = dict(prompts=['hi'], max_new_tokens=4) | kw
    raises(lambda: sample(*tiny, **kw), fragment)

# ---- the CLI: one `error:` line, exit 2, no traceback -------------------------------------------------------------------
@pytest.fixture(scope='module')
def tiny_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp('tiny_model')
    m, t = tiny_lm()
    m.save_pretrained(d); t.save_pretrained(d)
    return d

def cli(capsys, *args):
    with pytest.raises(SystemExit) as e: main(list(args))
    return e.value.code, capsys.readouterr().err

TRAIN = ['train', '--prompts', 'arithmetic', '--steps', '1', '--prompts-per-step', '1', '--n-rollouts', '2', '--max-new-tokens', '4',
         '--progress', 'false', '--tensorboard', 'false']

@pytest.mark.parametrize('extra, files, fragment', [
    (['--alpha', '2', '--out', '{tmp}/afile'], {'afile': 'x'}, 'exists and is not a folder'),
    (['--alpha', '2', '--out', '/proc/powerflow/run'], {}, '/proc/powerflow'),
    (['--alpha', '2', '--config', '{tmp}/c.yaml'], {'c.yaml': 'steps: [1,\n'}, 'is not valid YAML'),
    (['--alpha', '2', '--config', '{tmp}/c.json'], {'c.json': '{"steps": 1,'}, 'is not valid JSON'),
    (['--alpha', '2', '--config', '{tmp}/c.yaml'], {'c.yaml': '- steps\n- 1\n'}, 'must hold a mapping'),
    (['--alpha', '2', '--config', '{tmp}/c.txt'], {'c.txt': 'steps=1'}, 'must be a .yaml, .yml or .json file'),
    (['--alpha', '2', '--config', '{tmp}/c.yaml'], {'c.yaml': 'lr: fast\n'}, '--lr expects float'),
    (['--config', '{tmp}/c.yaml'], {'c.yaml': 'alpha: -2\n'}, 'alpha must be'),
    (['--alpha', '2', '--quantize', '3bit'], {}, "quantize must be None, '4bit' or '8bit'"),
    ([], {}, 'alpha is required'),
    (['--alpha', '2', '--resume', 'true', '--out', '{tmp}/nothing'], {}, 'does not exist'),
], ids=['out-is-a-file', 'out-unwritable', 'broken-yaml', 'broken-json', 'yaml-list', 'txt-config', 'bad-value', 'bad-alpha-in-file',
        'quantize-3bit', 'no-alpha', 'resume-nothing'])
def test_cli_train_user_errors(capsys, tmp_path, tiny_dir, extra, files, fragment):
    for name, text in files.items(): (tmp_path / name).write_text(text)
    code, err = cli(capsys, *TRAIN, '--model', str(tiny_dir), *[a.replace('{tmp}', str(tmp_path)) for a in extra])
    assert code == 2 and 'Traceback' not in err, err
    last = err.strip().splitlines()[-1]  # (transformers may print a progress bar before)
    assert last.startswith('powerflow train: error: ') and fragment in last and err.count('error:') == 1, err

def test_cli_full_disk_is_one_error_line(capsys, small_disk, tiny_dir):
    try:
        with open(small_disk / 'filler', 'wb') as f: f.write(b'\0' * shutil.disk_usage(small_disk).free)
    except OSError: pass
    code, err = cli(capsys, *TRAIN, '--model', str(tiny_dir), '--alpha', '2', '--out', str(small_disk / 'run'))
    last = err.strip().splitlines()[-1]
    assert code == 2 and 'Traceback' not in err and last.startswith('powerflow train: error: ') and 'no space left on device' in last, err

def test_cli_bad_flag_value_is_a_usage_error(capsys, tiny_dir):
    code, err = cli(capsys, *TRAIN, '--model', str(tiny_dir), '--alpha', '2', '--steps', 'many')
    assert code == 2 and '--steps expects int' in err and 'Traceback' not in err

def test_cli_run_json_round_trips_and_quantize_none(capsys, tmp_path, tiny_dir):
    main([*TRAIN, '--model', str(tiny_dir), '--alpha', '3', '--quantize', 'none', '--out', str(tmp_path / 'a')])
    run_json = tmp_path / 'a' / 'adapter' / 'run.json'
    main(['train', '--model', str(tiny_dir), '--prompts', 'arithmetic', '--config', str(run_json), '--out', str(tmp_path / 'b')])
    a, b = (json.loads((tmp_path / x / 'adapter' / 'run.json').read_text()) for x in 'ab')
    assert a['config'] | {'out_dir': None} == b['config'] | {'out_dir': None} and a['config']['alpha'] == 3.0
    assert a['identity'] == b['identity']

@pytest.mark.parametrize('adapter, fragment', [('plain', 'is not a PEFT adapter folder'), ('other-base', 'does not fit the base model')])
def test_cli_sample_wrong_adapter(capsys, tmp_path, tiny_dir, adapter, fragment):
    path = tmp_path / adapter
    path.mkdir()
    if adapter == 'other-base':  # an adapter trained on a wider model
        from peft import LoraConfig, get_peft_model
        get_peft_model(tiny_lm(hidden=64)[0], LoraConfig(r=2, target_modules='all-linear')).save_pretrained(path)
    code, err = cli(capsys, 'sample', '--model', str(tiny_dir), '--adapter', str(path), '--prompt', 'hi', '--max-new-tokens', '4')
    assert code == 2 and fragment in err and 'Traceback' not in err, err
