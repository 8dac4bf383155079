"The `powerflow` console script: the toy demo runs, bad input exits with status 2 and a message naming the argument."
import subprocess, sys
import pytest

def powerflow(*args, **kw):
    return subprocess.run([sys.executable, '-c', 'from powerflow_nb.cli import main; main()', *args], capture_output=True, text=True, timeout=300, **kw)

def test_toy_demo_writes_a_report(tmp_path):
    r = powerflow('demo', '--toy', '--alpha', '4', '--out', str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert 'temperature' in r.stdout and (tmp_path / 'toy_report.html').stat().st_size > 10_000

@pytest.mark.parametrize('args, message', [
    (['train', '--alpha', '0'], 'alpha must be'),
    (['train', '--alpha', 'nan'], 'alpha must be'),
    (['train', '--alpha', '2', '--prompts', 'no_such_file.jsonl'], 'no_such_file.jsonl'),
    (['train', '--alpha', '2', '--prompts', 'no-such-set'], 'no-such-set'),
    (['train', '--alpha', '2', '--quantize', '3bit'], 'quantize'),
    (['train', '--alpha', '2', '--objective', 'ppo'], 'objective must be one of'),
    (['train', '--alpha', '2', '--config', 'missing.yaml'], 'missing.yaml'),
    (['demo', '--toy', '--alpha', '-1'], 'alpha must be'),
])
def test_bad_input_is_a_clear_error(args, message, tmp_path):
    r = powerflow(*args, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr and 'Traceback' not in r.stderr

def test_cli_and_eval_do_not_import_trl():
    "`powerflow --help` and the toy demo stay fast: neither TRL nor transformers' Trainer is imported."
    code = "import sys, powerflow_nb.cli, powerflow_nb.eval; print('trl' in sys.modules, 'transformers.trainer' in sys.modules)"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.split() == ['False', 'False'], (r.stdout, r.stderr[-2000:])
