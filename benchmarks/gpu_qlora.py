"""GPU QLoRA benchmark: LA-TB training steps on a randomly initialised ~1.5B-parameter Qwen2-architecture model
(no weights can be fetched), LoRA on bf16 weights vs QLoRA on 4-bit nf4 weights: peak GPU memory and tokens/s; and
whether the three log-prob paths of an update agree under bf16 autocast: the sampler's log q (KV-cache decode), the
training forward log π_θ (train mode, LoRA at its zero init, so the same function) and the base scoring (adapters off),
per token and as the clip fraction the sequence-level importance weight w = exp Σ(log π_θ − log q) would have with the
sampler's log q as π_old; and the clip fraction the trainer logs (π_old from the first update's own forward).
Each configuration runs twice: with the trainer's defaults (rollouts from the folded copy, all rows at once, gradient
checkpointing on CUDA, the LM head in slices) and "before" (`BEFORE`: sampling through the adapter in micro-batches, no
checkpointing), with seconds per phase (rollout and base scoring; training), and beside them TRL's `GRPOTrainer` (its
plain transformers generation, no vLLM) on the same model, prompts, batch, completion budget, LoRA and learning rate,
with gradient checkpointing as the trainer's CUDA default has it. A random model never emits EOS, so its rollouts all run
to the budget: the runs use truncation='keep' so that every update has a backward pass to measure.

    python benchmarks/gpu_qlora.py             # on a CUDA machine (writes gpu_qlora.json)
    python benchmarks/gpu_qlora.py --steps 2 --max-new-tokens 128 --suffix _short   # a shorter check
    python benchmarks/gpu_qlora.py --tiny      # CPU smoke test of the same code path on a tiny Qwen2 (gpu_qlora_tiny.json)
"""
import argparse, tempfile, time
from pathlib import Path
import torch
from _bench import machine, write_json
from powerflow_nb.toy import format_table
from powerflow_nb.models import load_lm, char_tokenizer
from powerflow_nb.train import LATBConfig, train_latb
from powerflow_nb.policy import make_policy, rollout, train_autocast

QWEN2_1_5B = dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                  vocab_size=151936, max_position_embeddings=4096, tie_word_embeddings=True, rope_theta=1e6)
PROMPTS = [f'Add {i} and {i + 3}. Answer:' for i in range(16)]
ANSWERS = [dict(prompt=p, answer=str(2 * i + 3)) for i, p in enumerate(PROMPTS)]  # GRPO's correctness reward (always 0 on a random model)
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            vocab_size=256, max_position_embeddings=512, tie_word_embeddings=True)

def build(folder:Path, tiny:bool):
    "Save a random Qwen2 model (bf16) and a character tokenizer into `folder`, so load_lm can quantise it on load."
    from transformers import Qwen2Config, Qwen2ForCausalLM
    torch.manual_seed(0)
    cfg = Qwen2Config(**(TINY if tiny else QWEN2_1_5B))
    with torch.device('cuda' if torch.cuda.is_available() and not tiny else 'cpu'):
        model = Qwen2ForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(folder); char_tokenizer().save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())

def _reset_peak():
    if torch.cuda.is_available(): torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()

def _peak()->float: return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float('nan')

def run(folder, quantize, device, cfg):
    _reset_peak()
    model, tok = load_lm(str(folder), quantize=quantize, device=device, dtype=torch.bfloat16)
    t0 = time.perf_counter()
    res = train_latb(model, PROMPTS, 4.0, cfg, tokenizer=tok)
    dt = time.perf_counter() - t0
    steady = res.history[1:] or res.history
    tokens = sum(h['length'] * cfg.prompts_per_step * cfg.n_rollouts for h in steady)
    secs, roll = sum(h['seconds'] for h in steady), sum(h['rollout_seconds'] for h in steady)
    return {'peak GiB': _peak(), 'tokens/s': tokens / secs, 's/step': secs / len(steady), 'rollout + base s/step': roll / len(steady),
            'training s/step': (secs - roll) / len(steady), 'total s': dt, 'final loss': res.history[-1]['loss'],
            'clip frac': sum(h['clip_frac'] for h in res.history) / len(res.history),
            'sampler gap': sum(h['sampler_gap'] for h in res.history) / len(res.history)}

def run_trl(folder, quantize, device, cfg)->dict:
    "TRL's GRPOTrainer on the same model, prompts, batch, budget, LoRA (r 16, α 32, all linear layers) and learning rate."
    from powerflow_nb.baselines import run_grpo_baseline
    _reset_peak()
    model, tok = load_lm(str(folder), quantize=quantize, device=device, dtype=torch.bfloat16)
    t0 = time.perf_counter()
    r = run_grpo_baseline((model, tok), ANSWERS, reward='correctness', steps=cfg.steps, num_generations=cfg.n_rollouts,
                          max_completion_length=cfg.max_new_tokens, lr=cfg.lr, prompts_per_step=cfg.prompts_per_step,
                          micro_batch=cfg.micro_batch, chat=False, gradient_checkpointing=device == 'cuda')
    dt = time.perf_counter() - t0
    steady = r.step_times[1:] or r.step_times
    tokens = r.train_tokens / len(r.step_times) * len(steady)  # every update generates the same count (no EOS on a random model)
    return {'peak GiB': _peak(), 'tokens/s': tokens / sum(steady), 's/step': sum(steady) / len(steady), 'total s': dt,
            'final loss': next((h['loss'] for h in reversed(r.history) if 'loss' in h), float('nan'))}

def agreement(folder, quantize, device, cfg, prompts)->dict:
    "|Δ log-prob| per completion token between rollout, training forward and base scoring, and the clip fraction of w."
    model, tok = load_lm(str(folder), quantize=quantize, device=device, dtype=torch.bfloat16)
    policy = make_policy(model, tok, cfg)
    torch.manual_seed(0)
    b = rollout(policy, policy.prompts(prompts, cfg), list(range(cfg.prompts_per_step)), cfg)
    s, m = b.samples, b.samples.completion_mask.to(b.base_logp.device)
    with torch.no_grad(), train_autocast(b.base_logp.device, cfg):  # the training forward exactly as batch_loss runs it
        logpi = torch.cat([policy.logprobs(s, r).float() for r in torch.arange(len(s)).split(cfg.micro_batch)])
    logq, base = s.logq.to(logpi.device).float(), b.base_logp.float()
    d = lambda a, c: (a - c)[m].abs()
    w = ((logpi - logq) * m).sum(-1).exp()
    return {'tokens': int(m.sum()), 'max |train-rollout|': d(logpi, logq).max().item(), 'mean |train-rollout|': d(logpi, logq).mean().item(),
            'max |base-rollout|': d(base, logq).max().item(), 'mean |base-rollout|': d(base, logq).mean().item(),
            'max |train-base|': d(logpi, base).max().item(),
            'max |w-1|': (w - 1).abs().max().item(), 'clip frac': ((w < 1 - cfg.clip_eps) | (w > 1 + cfg.clip_eps)).float().mean().item()}

def BEFORE(cfg):
    "The trainer without its memory and speed defaults: sampling through the adapter in micro-batches, no gradient checkpointing."
    import dataclasses
    return dataclasses.replace(cfg, fold_adapter=False, gradient_checkpointing=False, rollout_batch=cfg.micro_batch)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--tiny', action='store_true', help='CPU smoke test on a tiny Qwen2')
    ap.add_argument('--steps', type=int, default=4); ap.add_argument('--max-new-tokens', type=int, default=256)
    ap.add_argument('--prompts-per-step', type=int, default=4); ap.add_argument('--n-rollouts', type=int, default=7)
    ap.add_argument('--suffix', default='', help='written to gpu_qlora<suffix>.json')
    a = ap.parse_args()
    if not a.tiny and not torch.cuda.is_available(): raise SystemExit('no CUDA device: run with --tiny for the CPU smoke test')
    device = 'cpu' if a.tiny else 'cuda'
    cfg = LATBConfig(steps=a.steps, prompts_per_step=a.prompts_per_step, n_rollouts=a.n_rollouts, max_new_tokens=a.max_new_tokens,
                     micro_batch=a.n_rollouts * 2, chat=False, progress=False, truncation='keep')
    rows, agree = {}, {}
    with tempfile.TemporaryDirectory() as d:
        n = build(Path(d), a.tiny)
        print(f"random Qwen2, {n / 1e9:.3f}B parameters, {device}")
        for name, q in (('LoRA bf16', None), ('QLoRA nf4', '4bit')):
            agree[name] = agreement(d, q, device, cfg, PROMPTS); print(name, agree[name], flush=True)
            rows[name] = run(d, q, device, cfg); print(name, rows[name], flush=True)
            rows[name + ' before'] = run(d, q, device, BEFORE(cfg)); print(name + ' before', rows[name + ' before'], flush=True)
            rows[name + ' TRL GRPO'] = run_trl(d, q, device, cfg); print(name + ' TRL GRPO', rows[name + ' TRL GRPO'], flush=True)
    print(format_table(rows, '{:.4g}', ['peak GiB', 'tokens/s', 's/step', 'rollout + base s/step', 'training s/step', 'total s', 'final loss', 'clip frac', 'sampler gap']))
    print(format_table(agree, '{:.3g}', list(next(iter(agree.values())))))
    for name in ('LoRA bf16', 'QLoRA nf4'):
        print(f"{name}: PowerFlow / TRL GRPO tokens/s {rows[name]['tokens/s'] / rows[name + ' TRL GRPO']['tokens/s']:.2f}, "
              f"after / before tokens/s {rows[name]['tokens/s'] / rows[name + ' before']['tokens/s']:.2f}")
    print(f"QLoRA/LoRA peak memory ratio {rows['QLoRA nf4']['peak GiB'] / rows['LoRA bf16']['peak GiB']:.2f}, throughput ratio {rows['QLoRA nf4']['tokens/s'] / rows['LoRA bf16']['tokens/s']:.2f}")
    print(f"wrote {write_json(__file__, dict(args=vars(a), machine=machine(), params=n, rows=rows, agreement=agree), a.suffix or ('_tiny' if a.tiny else ''))}")

if __name__ == '__main__': main()
