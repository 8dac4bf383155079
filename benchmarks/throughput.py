"""Throughput of SmolLM2 on this machine against the floor the hardware implies, in one run.

Measured side by side (one process, so machine load hits every row alike; read the ratios):
* the machine: copy bandwidth (a 1 GiB tensor copy; bytes read + written per second) and matmul throughput (fp32, bf16);
* decode: the package's sampler (`powerflow_nb.lm.sample`, KV cache) and Hugging Face `generate` (sampling, the same
  rows and length), with fp32 and bf16 weights: ms per decode step and tokens/s;
* a decode step's matrix products alone (every linear layer in turn on the same rows, nothing between them): what
  eager matmuls at these shapes can do, the ceiling under the bandwidth floor;
* decode through a LoRA adapter (r = 16 on every linear layer, as the trainer's policy samples): what PEFT's
  adapted layers add to a step;
* drawing one token per row from the 49k-word distribution: `torch.multinomial` (before) against the package's
  inverse-CDF `draw_tokens` (after);
* prefill: one forward pass over rows × prompt tokens; training: forward + backward with a LoRA adapter of rows that
  share prompts as an LA-TB batch does (2 prompts × rows/2 completions): one joined forward per row (before) against
  `completion_logprobs`, which runs each prompt once and shares its KV cache (after); tokens/s count the batch's
  positions, so the shared row can pass the floor (it computes fewer of them);
* the floors: a decode step must read every weight once (weight bytes / copy bandwidth); prefill must do 2·N flops per
  token (N parameters) and training with a frozen base 4·N (forward, and the backward to the inputs; no weight
  gradients but LoRA's), at the measured matmul rate;
* seconds per update of `train_latb` against TRL's `GRPOTrainer` (benchmarks/step_time.py, one round, alternated),
  both on the same weights, for each dtype measured (`--no-trl` leaves this out).

bf16 rows run by default only where the CPU has native bf16 (AVX512-BF16 or AMX), or on CUDA; `--dtypes float32
bfloat16` forces both (bf16 is emulated, and slow, elsewhere).

    python benchmarks/throughput.py --quick    # smoke test (tiny model), seconds
    python benchmarks/throughput.py            # SmolLM2 with the GRPO ratio, about 3 min on 2 quiet CPU cores
"""
import argparse, time
import numpy as np
import torch
from _bench import load, machine, write_json
from powerflow_nb.toy import format_table
from powerflow_nb.models import cpu_native_bf16
from powerflow_nb.lm import sample, completion_logprobs, encode_prompts
from powerflow_nb.decoding import draw_tokens

def native_bf16()->bool: return torch.cuda.is_available() or cpu_native_bf16()

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

def decode_rows(model, tok, prompts, rows:int, new:int, hf:bool=True)->dict:
    """The package's sampler and HF generate on the same `rows` × `new` tokens: seconds per decode step, each method's own
    prefill cancelled by timing `new` and 1 new token: (t_new − t_1) / (steps − 1)."""
    n = rows // len(prompts)
    ids, mask = encode_prompts(tok, prompts, True)
    ids, mask = ids.repeat_interleave(n, 0), mask.repeat_interleave(n, 0)
    def ours(k):
        s = sample(model, tok, prompts, n=n, max_new_tokens=k, seed=0)
        return s.completion_ids.shape[1]
    def hf_generate(k):
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=mask.long(), do_sample=True, max_new_tokens=k, min_new_tokens=k,
                                 pad_token_id=tok.pad_token_id)
        return out.shape[1] - ids.shape[1]
    per_step = {}
    for name, fn in (('ours', ours), ('hf', hf_generate))[:2 if hf else 1]:
        steps = {}
        t = {k: timed(lambda k=k: steps.__setitem__(k, fn(k)), reps=2) for k in (1, new)}
        per_step[name] = (t[new] - t[1]) / max(steps[new] - steps[1], 1)
    return per_step

def matmul_step(model, rows:int)->float:
    """Seconds for a decode step's matrix products alone: every linear layer of `model` (the head included) applied in
    turn to `rows` rows, nothing between them: the eager ceiling of a step at these shapes."""
    lin = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    xs = {m.in_features: torch.randn(rows, m.in_features).to(m.weight.dtype) for m in lin}
    def step():
        with torch.no_grad():
            for m in lin: torch.nn.functional.linear(xs[m.in_features], m.weight)
    return timed(step, reps=5)

def decode_lora(model, tok, prompts, rows:int, new:int, rounds:int=3)->dict:
    """Seconds per decode step of the package's sampler through a LoRA adapter (r = 16 on every linear layer, as the
    trainer's policy), through the plain copy with that adapter folded in (`policy.FoldedCopy`, what the trainer samples
    from), and through the plain model, interleaved over `rounds` rounds (medians, and the median of each round's ratio)."""
    import copy
    from peft import LoraConfig, get_peft_model
    from powerflow_nb.policy import FoldedCopy
    plain = copy.deepcopy(model)
    pm = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules='all-linear')).eval()
    fc = FoldedCopy(pm)
    ts = {k: [] for k in ('plain', 'adapter', 'folded')}
    for _ in range(rounds):
        for k, m in (('plain', plain), ('adapter', pm), ('folded', fc.refresh())): ts[k].append(decode_rows(m, tok, prompts, rows, new, hf=False)['ours'])
    del fc, plain
    pm.unload()
    out = {k: float(np.median(v)) for k, v in ts.items()}
    out.update({f'{k}/plain': float(np.median(np.array(ts[k]) / np.array(ts['plain']))) for k in ('adapter', 'folded')})
    return out

def prefill_rate(model, ids, mask)->float:
    with torch.no_grad(): return ids.numel() / timed(lambda: model(input_ids=ids, attention_mask=mask.long(), use_cache=False))

def draw_ms(rows:int, vocab:int)->dict:
    "ms per draw of one token for each of `rows` rows from a `vocab`-word distribution: torch.multinomial vs draw_tokens."
    logq, g = torch.randn(rows, vocab).log_softmax(-1), torch.Generator().manual_seed(0)
    return {'multinomial': 1e3 * timed(lambda: torch.multinomial(logq.exp(), 1, generator=g), reps=20),
            'draw_tokens': 1e3 * timed(lambda: draw_tokens(logq, g), reps=20)}

def joined_logprobs(model, pids, pmask, cids, cmask):
    "The LA-TB forward as it was: one forward pass over [prompt, completion] per row, every row's prompt run again."
    ids, mask = torch.cat([pids, cids], 1), torch.cat([pmask, cmask], 1)
    logits = model(input_ids=ids, attention_mask=mask.long(), position_ids=(mask.long().cumsum(-1) - 1).clamp(min=0),
                   use_cache=False, logits_to_keep=cids.shape[1] + 1).logits[:, :-1].float()
    return torch.where(cmask, logits.gather(-1, cids[..., None]).squeeze(-1) - logits.logsumexp(-1), 0.0)

def train_rates(model, ids, mask, T:int)->dict:
    """Tokens/s (the batch's positions) of forward + backward through a LoRA adapter, rows sharing prompts in pairs of
    halves (2 prompts, as an LA-TB batch), the last T tokens of each row as its completion: joined vs shared prompt."""
    from peft import LoraConfig, get_peft_model
    pm = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules='all-linear'))
    pm.train()
    B = ids.shape[0]
    ids = torch.cat([ids[[0] * (B // 2) + [1] * (B - B // 2), :-T], ids[:, -T:]], 1)  # 2 distinct prompts, distinct completions
    cmask = torch.ones(B, T, dtype=torch.bool)
    out = {}
    for name, fn in (('joined', joined_logprobs), ('shared', completion_logprobs)):
        def step():
            fn(pm, ids[:, :-T], mask[:, :-T], ids[:, -T:], cmask).sum().backward()
            pm.zero_grad(set_to_none=True)
        out[name] = ids.numel() / timed(step, reps=2)
    pm.unload()
    return out

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='tiny model, small sizes')
    ap.add_argument('--suffix', default='', help='written to throughput<suffix>.json (default: throughput.json, or _quick)')
    ap.add_argument('--rows', type=int, default=8); ap.add_argument('--new-tokens', type=int, default=32)
    ap.add_argument('--prompt-tokens', type=int, default=100); ap.add_argument('--no-trl', action='store_true', help='leave out LA-TB vs GRPOTrainer seconds per update')
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
    rows, paired_ratios = {}, {}
    for dt in dtypes:
        name = str(dt).split('.')[-1]
        m, tok = load(model_name, dt)
        N, wb = sum(p.numel() for p in m.parameters()), weight_bytes(m)
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(5, min(tok.vocab_size, int(m.config.vocab_size)) - 1, (a.rows, a.prompt_tokens), generator=g)
        mask = torch.ones_like(ids, dtype=torch.bool)
        dec = decode_rows(m, tok, prompts, a.rows, a.new_tokens)
        floor_step = wb / bw
        for who in ('ours', 'hf'):
            rows[f'decode {name} {who}'] = {'ms/step': 1e3 * dec[who], 'tok/s': a.rows / dec[who], 'floor ms/step': 1e3 * floor_step, 'x floor': dec[who] / floor_step}
        t = matmul_step(m, a.rows)
        rows[f'decode {name}: its matmuls alone'] = {'ms/step': 1e3 * t, 'tok/s': a.rows / t, 'floor ms/step': 1e3 * floor_step, 'x floor': t / floor_step}
        lo = decode_lora(m, tok, prompts, a.rows, a.new_tokens, rounds=1 if a.quick else 3)
        for how, label in (('plain', 'plain (paired)'), ('adapter', 'through LoRA'), ('folded', 'through LoRA folded')):
            t = lo[how]
            rows[f'decode {name} ours, {label}'] = {'ms/step': 1e3 * t, 'tok/s': a.rows / t, 'floor ms/step': 1e3 * floor_step, 'x floor': t / floor_step}
        paired_ratios[name] = {k: v for k, v in lo.items() if '/' in k}
        pre = prefill_rate(m, ids, mask)
        rows[f'prefill {name}'] = {'tok/s': pre, 'floor tok/s': mm[name] / (2 * N), 'x floor': mm[name] / (2 * N) / pre}
        for how, tr in train_rates(m, ids, mask, a.prompt_tokens // 2).items():
            rows[f'train fwd+bwd {name} {how}'] = {'tok/s': tr, 'floor tok/s': mm[name] / (4 * N), 'x floor': mm[name] / (4 * N) / tr}
        print(format_table({k: v for k, v in rows.items() if name in k}, '{:.4g}', ['ms/step', 'tok/s', 'floor ms/step', 'floor tok/s', 'x floor']), flush=True)
        del m
    cols = ['ms/step', 'tok/s', 'floor ms/step', 'floor tok/s', 'x floor']
    print(format_table(rows, '{:.4g}', cols))
    ratios = {f'ours/hf decode {d}': rows[f'decode {d} ours']['ms/step'] / rows[f'decode {d} hf']['ms/step'] for d in map(lambda x: str(x).split('.')[-1], dtypes)}
    if {torch.float32, torch.bfloat16} <= set(dtypes):
        ratios.update({'bf16/fp32 decode (ours)': rows['decode bfloat16 ours']['ms/step'] / rows['decode float32 ours']['ms/step'],
                       'fp32/bf16 prefill tok/s': rows['prefill float32']['tok/s'] / rows['prefill bfloat16']['tok/s'],
                       'fp32/bf16 train tok/s': rows['train fwd+bwd float32 shared']['tok/s'] / rows['train fwd+bwd bfloat16 shared']['tok/s']})
    for d, pr in paired_ratios.items():  # interleaved rounds: the median of each round's ratio
        ratios[f'LoRA/plain decode {d}'], ratios[f'LoRA folded/plain decode {d}'] = pr['adapter/plain'], pr['folded/plain']
    ratios.update({f'joined/shared train tok/s {d}': rows[f'train fwd+bwd {d} joined']['tok/s'] / rows[f'train fwd+bwd {d} shared']['tok/s']
                   for d in map(lambda x: str(x).split('.')[-1], dtypes)})
    draw = draw_ms(a.rows, 49152)
    rows.update({f'draw 1 token/row {k}': {'ms/step': v} for k, v in draw.items()})
    ratios['draw_tokens/multinomial'] = draw['draw_tokens'] / draw['multinomial']
    for k, v in ratios.items(): print(f"{k}: {v:.3f}")
    res = dict(args=vars(a), machine=machine(), native_bf16=native_bf16(), copy_bandwidth=bw, matmul_flops=mm, rows=rows, ratios=ratios)
    if not a.no_trl:
        import step_time
        res['step_time'] = {str(d).split('.')[-1]: step_time.main((['--quick', '--model', 'tiny'] if a.quick else ['--rounds', '1', '--steps', '3'])
                                                                  + ['--dtype', str(d).split('.')[-1], '--no-json']) for d in dtypes}
        for d, st in res['step_time'].items(): print(f"LA-TB / GRPOTrainer seconds per update, {d}: {st['ratio']['median']:.3f}")
    res['wall_s'] = time.time() - t0
    print('wrote', write_json(__file__, res, a.suffix or ('_quick' if a.quick else '')))
    return res

if __name__ == '__main__': main()
