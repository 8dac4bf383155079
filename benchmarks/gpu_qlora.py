"""GPU QLoRA benchmark: LA-TB training steps on a randomly initialised ~1.5B-parameter Qwen2-architecture model
(no weights can be fetched), LoRA on bf16 weights vs QLoRA on 4-bit nf4 weights: peak GPU memory and tokens/s.

    python benchmarks/gpu_qlora.py             # on a CUDA machine (writes gpu_qlora.json)
    python benchmarks/gpu_qlora.py --tiny      # CPU smoke test of the same code path on a tiny Qwen2 (gpu_qlora_tiny.json)
"""
import argparse, tempfile, time
from pathlib import Path
import torch
from _bench import machine, write_json
from powerflow_nb.toy import format_table
from powerflow_nb.lm import load_lm, char_tokenizer
from powerflow_nb.train import LATBConfig, train_latb

QWEN2_1_5B = dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                  vocab_size=151936, max_position_embeddings=4096, tie_word_embeddings=True, rope_theta=1e6)
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

def run(folder, quantize, device, cfg):
    if torch.cuda.is_available(): torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
    model, tok = load_lm(str(folder), quantize=quantize, device=device, dtype=torch.bfloat16)
    t0 = time.perf_counter()
    res = train_latb(model, [f'Add {i} and {i + 3}. Answer:' for i in range(16)], 4.0, cfg, tokenizer=tok)
    dt = time.perf_counter() - t0
    steady = res.history[1:] or res.history
    tokens = sum(h['length'] * cfg.prompts_per_step * cfg.n_rollouts for h in steady)
    secs = sum(h['seconds'] for h in steady)
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float('nan')
    return {'peak GiB': peak, 'tokens/s': tokens / secs, 's/step': secs / len(steady), 'total s': dt, 'final loss': res.history[-1]['loss']}

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--tiny', action='store_true', help='CPU smoke test on a tiny Qwen2')
    ap.add_argument('--steps', type=int, default=4); ap.add_argument('--max-new-tokens', type=int, default=256)
    ap.add_argument('--prompts-per-step', type=int, default=4); ap.add_argument('--n-rollouts', type=int, default=7)
    a = ap.parse_args()
    if not a.tiny and not torch.cuda.is_available(): raise SystemExit('no CUDA device: run with --tiny for the CPU smoke test')
    device = 'cpu' if a.tiny else 'cuda'
    cfg = LATBConfig(steps=a.steps, prompts_per_step=a.prompts_per_step, n_rollouts=a.n_rollouts, max_new_tokens=a.max_new_tokens,
                     micro_batch=a.n_rollouts * 2, chat=False, progress=False)
    rows = {}
    with tempfile.TemporaryDirectory() as d:
        n = build(Path(d), a.tiny)
        print(f"random Qwen2, {n / 1e9:.3f}B parameters, {device}")
        for name, q in (('LoRA bf16', None), ('QLoRA nf4', '4bit')):
            rows[name] = run(d, q, device, cfg); print(name, rows[name], flush=True)
    print(format_table(rows, '{:.4g}', ['peak GiB', 'tokens/s', 's/step', 'total s', 'final loss']))
    print(f"QLoRA/LoRA peak memory ratio {rows['QLoRA nf4']['peak GiB'] / rows['LoRA bf16']['peak GiB']:.2f}, throughput ratio {rows['QLoRA nf4']['tokens/s'] / rows['LoRA bf16']['tokens/s']:.2f}")
    print(f"wrote {write_json(__file__, dict(args=vars(a), machine=machine(), params=n, rows=rows), '_tiny' if a.tiny else '')}")

if __name__ == '__main__': main()
