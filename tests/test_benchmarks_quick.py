"Smoke tests: every benchmark runs end to end in --quick mode (each < 5 min on 2 CPU cores with SmolLM2-135M)."
import json, subprocess, sys
from pathlib import Path
import pytest

BENCH = Path(__file__).resolve().parents[1] / 'benchmarks'

@pytest.mark.slow
@pytest.mark.parametrize('script', ['step_time.py', 'reasoning.py', 'creativity.py'])
def test_benchmark_quick(script):
    p = subprocess.run([sys.executable, str(BENCH / script), '--quick'], cwd=BENCH, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    out = BENCH / (Path(script).stem + '_quick.json')
    assert out.exists()
    res = json.loads(out.read_text())
    assert res['wall_s'] < 300, f"--quick took {res['wall_s']:.0f}s (> 5 min)"
    if script == 'step_time.py': assert res['ratio']['median'] > 0
    else: assert res['table']
