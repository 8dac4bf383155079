"PowerFlow through TRL (`powerflow_nb.trl.PowerFlowTrainer`) on SmolLM2-135M-Instruct, CPU: a short run (marker `slow`)."
import math, os, time
import pytest, torch

pytestmark = pytest.mark.slow

def test_powerflow_trl_smollm2_three_updates(tmp_path):
    from powerflow_nb.models import load_lm
    from powerflow_nb.data import arithmetic
    from powerflow_nb.toy import format_table
    from powerflow_nb.trl import run_powerflow_trl
    torch.manual_seed(0)
    model, tok = load_lm('smollm2-135m', device='cpu', dtype=torch.float32)
    t0 = time.perf_counter()
    res = run_powerflow_trl((model, tok), arithmetic('train', n=8), alpha=4.0, steps=3, num_generations=4, max_completion_length=24,
                            prompts_per_step=2, micro_batch=4, lr=1e-4, logz_lr=2e-2, format_penalty=-0.5, out_dir=str(tmp_path))
    wall = time.perf_counter() - t0
    logs = [h for h in res.history if 'loss' in h]
    keys = ['loss', 'powerflow/residual', 'powerflow/logz', 'powerflow/base_logp_per_token', 'kl', 'clip_ratio/region_mean',
            'completions/mean_length', 'completions/clipped_ratio', 'rewards/format_penalty/mean']
    print(f"\nSmolLM2 through TRL, 3 updates of 2 prompts x 4 completions <= 24 tokens, CPU: {wall:.0f} s "
          f"(updates {', '.join(f'{t:.1f}' for t in res.step_times)} s)\n" + format_table({f"update {h['step']}": {k: h[k] for k in keys} for h in logs}, '{:.4g}'))
    assert len(logs) == 3 and all(math.isfinite(h['loss']) for h in logs)
    assert all(h['clip_ratio/region_mean'] == 0.0 for h in logs)  # one update per batch: w = 1
    assert all(math.isfinite(h[k]) for h in logs for k in keys)
    assert {'adapter_model.safetensors', 'logz.pt'} <= set(os.listdir(tmp_path))
    moved = [p for n, p in res.model.named_parameters() if 'lora_B' in n]
    assert moved and all(p.abs().max() > 0 for p in moved)  # every adapter matrix left its zero start
