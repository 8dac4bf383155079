"""Throughput of SmolLM2 on this machine against the floor the hardware implies, in one run.

Measured side by side (one process, so machine load hits every row alike; read the ratios):
* the machine: copy bandwidth (a 1 GiB tensor copy; bytes read + written per second) and matmul throughput (fp32, bf16);
* decode: the package's sampler (`powerflow_nb.lm.sample`, KV cache) and Hugging Face `generate` (sampling, the same
  rows and length), with fp32 and bf16 weights: ms per decode step and tokens/s;
* prefill: one forward pass over rows × prompt tokens; training: forward + backward of `completion_logprobs` with a
  LoRA adapter (the LA-TB update's work), tokens/s;
* the floors: a decode step must read every weight once (weight bytes / copy bandwidth); prefill must do 2·N flops per
  token (N parameters) and training with a frozen base 4·N (forward, and the backward to the inputs; no weight
  gradients but LoRA's), at the measured matmul rate;
* with `--trl`: seconds per update of `train_latb` against TRL's `GRPOTrainer` (benchmarks/step_time.py, alternated).

bf16 rows run by default only where the CPU has native bf16 (AVX512-BF16 or AMX), or on CUDA; `--dtypes float32
bfloat16` forces both (bf16 is emulated, and slow, elsewhere).

    python benchmarks/throughput.py --quick    # smoke test (tiny model), seconds
    python benchmarks/throughput.py            # SmolLM2, about 5 min on 2 CPU cores (add --trl for the GRPO ratio, +10 min)
"""
import argparse, time
from pathlib import Path
import torch
from _bench import load, machine, write_json
from powerflow_nb.toy import format_table
from powerflow_nb.lm import sample, completion_logprobs, encode_prompts

def native_bf16()->bool:
    "CUDA, or a CPU whose flags include AVX512-BF16 or AMX-BF16 (elsewhere bf16 is emulated and slower than fp32)."
    if torch.cuda.is_available(): return True
    flags = Path('/proc/cpuinfo').read_text() if Path('/proc/cpuinfo').exists() else ''
    return 'avx512_bf16' in flags or 'amx_bf16' in flags

def timed(fn, reps:int=3)->float:
    "Median seconds of `reps` calls after one warm-up call."
    fn(); ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]

def copy_bandwidth(gib:float=1.0)->float:
    "Bytes read + written per second by a large tensor copy."
    x = torch.empty(int(gib * 2**30) // 4, dtype=torch.float32).fill_(1.0); y = torch.empty_like(x)
    return 2 * x.numel() * 4 / timed(lambda: y.copy_(x))

def matmul_rate(dtype, n:int=1024)->float:
    "Flops per second of an n×n×n matrix product."
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    return 2 * n**3 / timed(lambda: a @ b, reps=5)

def weight_bytes(model)->int: return sum(p.numel() * p.element_size() for p in model.parameters())

def decode_rows(model, tok, prompts, rows:int, new:int)->dict:
    """The package's sampler and HF generate on the same `rows` × `new` tokens: seconds per decode step, each method's own
    prefill cancelled by timing `new` and 1 new token: (t_new − t_1) / (steps − 1)."""
    n = rows // len(prompts)
    ids, mask = encode_prompts(tok, prompts, True)
    ids, mask = ids.repeat_interleave(n, 0), mask.repeat_interleave(n, 0)
    def ours(k):
        s = sample(model, tok, prompts, n=n, max_new_tokens=k, seed=0)
        return s.completion_ids.shape[1]
    def hf(k):
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=mask.long(), do_sample=True, max_new_tokens=k, min_new_tokens=k,
                                 pad_token_id=tok.pad_token_id)
        return out.shape[1] - ids.shape[1]
    per_step = {}
    for name, fn in (('ours', ours), ('hf', hf)):
        steps = {}
        t = {k: timed(lambda k=k: steps.__setitem__(k, fn(k)), reps=2) for k in (1, new)}
        per_step[name] = (t[new] - t[1]) / max(steps[new] - steps[1], 1)
    return per_step

def prefill_rate(model, ids, mask)->float:
    with torch.no_grad(): return ids.numel() / timed(lambda: model(input_ids=ids, attention_mask=mask.long(), use_cache=False))

def train_rate(model, ids, mask, T:int)->float:
    "Tokens/s of forward + backward of completion_logprobs (the last T tokens as the completion) through a LoRA adapter."
    from peft import LoraConfig, get_peft_model
    pm = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules='all-linear'))
    pm.train()
    cmask = torch.ones(ids.shape[0], T, dtype=torch.bool)
    def step():
        lp = completion_logprobs(pm, ids[:, :-T], mask[:, :-T], ids[:, -T:], cmask)
        lp.sum().backward()
        pm.zero_grad(set_to_none=True)
    r = ids.numel() / timed(step, reps=2)
    pm.unload()
    return r

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='tiny model, small sizes')
    ap.add_argument('--rows', type=int, default=8); ap.add_argument('--new-tokens', type=int, default=32)
    ap.add_argument('--prompt-tokens', type=int, default=100); ap.add_argument('--trl', action='store_true', help='also LA-TB vs GRPOTrainer seconds per update')
    ap.add_argument('--dtypes', nargs='+', choices=['float32', 'bfloat16'], help='weight dtypes to measure (default: float32, and bfloat16 where native)')
    a = ap.parse_args(argv)
    model_name = 'tiny' if a.quick else 'smollm2-135m'
    if a.quick: a.rows, a.new_tokens, a.prompt_tokens = 4, 8, 16
    t0 = time.time()
    bw = copy_bandwidth(0.25 if a.quick else 1.0)
    dtypes = [getattr(torch, d) for d in a.dtypes] if a.dtypes else [torch.float32] + ([torch.bfloat16] if native_bf16() else [])
    mm = {str(d).split('.')[-1]: matmul_rate(d, 256 if a.quick else 1024) for d in dtypes}
    print(f"copy bandwidth {bw / 1e9:.1f} GB/s (read + write); matmul " + ', '.join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in mm.items()), flush=True)
    prompts = ['Add 17 and 25.', 'Write a haiku about autumn.']
    rows = {}
    for dt in dtypes:
        name = str(dt).split('.')[-1]
        m, tok = load(model_name)
        m = m.to(dt)
        N, wb = sum(p.numel() for p in m.parameters()), weight_bytes(m)
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(5, min(tok.vocab_size, int(m.config.vocab_size)) - 1, (a.rows, a.prompt_tokens), generator=g)
        mask = torch.ones_like(ids, dtype=torch.bool)
        dec = decode_rows(m, tok, prompts, a.rows, a.new_tokens)
        floor_step = wb / bw
        for who in ('ours', 'hf'):
            rows[f'decode {name} {who}'] = {'ms/step': 1e3 * dec[who], 'tok/s': a.rows / dec[who], 'floor ms/step': 1e3 * floor_step, 'x floor': dec[who] / floor_step}
        pre = prefill_rate(m, ids, mask)
        rows[f'prefill {name}'] = {'tok/s': pre, 'floor tok/s': mm[name] / (2 * N), 'x floor': mm[name] / (2 * N) / pre}
        tr = train_rate(m, ids, mask, a.prompt_tokens // 2)
        rows[f'train fwd+bwd {name}'] = {'tok/s': tr, 'floor tok/s': mm[name] / (4 * N), 'x floor': mm[name] / (4 * N) / tr}
        print(format_table({k: v for k, v in rows.items() if name in k}, '{:.4g}', ['ms/step', 'tok/s', 'floor ms/step', 'floor tok/s', 'x floor']), flush=True)
        del m
    cols = ['ms/step', 'tok/s', 'floor ms/step', 'floor tok/s', 'x floor']
    print(format_table(rows, '{:.4g}', cols))
    ratios = {f'ours/hf decode {d}': rows[f'decode {d} ours']['ms/step'] / rows[f'decode {d} hf']['ms/step'] for d in map(lambda x: str(x).split('.')[-1], dtypes)}
    if {torch.float32, torch.bfloat16} <= set(dtypes):
        ratios.update({'bf16/fp32 decode (ours)': rows['decode bfloat16 ours']['ms/step'] / rows['decode float32 ours']['ms/step'],
                       'fp32/bf16 prefill tok/s': rows['prefill float32']['tok/s'] / rows['prefill bfloat16']['tok/s'],
                       'fp32/bf16 train tok/s': rows['train fwd+bwd float32']['tok/s'] / rows['train fwd+bwd bfloat16']['tok/s']})
    for k, v in ratios.items(): print(f"{k}: {v:.3f}")
    res = dict(args=vars(a), machine=machine(), native_bf16=native_bf16(), copy_bandwidth=bw, matmul_flops=mm, rows=rows, ratios=ratios)
    if a.trl:
        import step_time
        res['step_time'] = step_time.main(['--quick', '--model', 'tiny'] if a.quick else ['--rounds', '1', '--steps', '3'])
    res['wall_s'] = time.time() - t0
    print('wrote', write_json(__file__, res, '_quick' if a.quick else ''))
    return res

if __name__ == '__main__': main()
