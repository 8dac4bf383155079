"""What bitsandbytes' packed AVX512-BF16 4-bit CPU kernel does to PowerFlow, measured on SmolLM2 nf4 on this CPU.

bitsandbytes repacks a `Linear4bit` weight the first time the layer runs in eval mode without grad on a CPU with
AVX512-BF16; from then on every forward of that layer, training ones included, runs the packed kernel. The script loads
the model twice, with bitsandbytes' per-layer flag forced on (as on such a CPU) and left as shipped, or pinned to the
dequantise-then-matmul kernel by `powerflow_nb.models.pin_4bit_kernel`, and measures on one text:

* sampling vs scoring: per-token log-probs from token-by-token decoding with a KV cache (how rollouts are sampled)
  against one full forward (how they are scored);
* the gradient that reaches the input embeddings through the frozen 4-bit layers in a train-mode forward (what LoRA
  adapters below the top layer learn from), after one eval forward.

Prints a table and writes benchmarks/cpu_4bit_kernels.json. On a CPU without AVX512-BF16 the packed kernel is not
there and its row measures nothing meaningful; the script says which CPU it ran on.

    python benchmarks/cpu_4bit_kernels.py
"""
import torch
from _bench import machine, write_json
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache
import bitsandbytes.functional as F
from powerflow_nb.models import model_path, quantization_config, pin_4bit_kernel
from powerflow_nb.toy import format_table

TEXT = "The capital of France is Paris, and the capital of Italy is Rome. Two plus two is four."

def load4(path, pin:bool):
    "SmolLM2 in nf4 on the CPU with bitsandbytes' AVX512-BF16 flag on, then pinned or not."
    m = AutoModelForCausalLM.from_pretrained(path, quantization_config=quantization_config('4bit'), device_map='cpu').eval()
    for mod in m.modules():
        if hasattr(mod, 'support_avx512bf16_for_cpu'): mod.support_avx512bf16_for_cpu = True
    if pin: pin_4bit_kernel(m)
    return m

@torch.no_grad()
def full_vs_incremental(m, ids)->torch.Tensor:
    "|Δ log p| per token between one full forward and token-by-token decoding with a KV cache."
    full = m(input_ids=ids).logits[0, :-1].float().log_softmax(-1)
    cache, steps = DynamicCache(), []
    for t in range(ids.shape[1] - 1):
        steps.append(m(input_ids=ids[:, t:t + 1], past_key_values=cache, use_cache=True).logits[0, -1].float().log_softmax(-1))
    inc = torch.stack(steps)
    tok = ids[0, 1:, None]
    return (full.gather(-1, tok) - inc.gather(-1, tok)).abs().squeeze(-1)

def input_grad_norm(m, ids)->float:
    "Norm of d(Σ log p)/d(input embeddings) in a train-mode forward (after an eval forward has run)."
    emb = m.get_input_embeddings()(ids).detach().requires_grad_(True)
    m.train()
    lp = m(inputs_embeds=emb).logits[0, :-1].float().log_softmax(-1).gather(-1, ids[0, 1:, None]).sum()
    lp.backward()
    m.eval()
    return 0.0 if emb.grad is None else emb.grad.norm().item()

def main():
    path = model_path('smollm2-135m')
    ids = AutoTokenizer.from_pretrained(path)([TEXT], return_tensors='pt').input_ids
    rows = {}
    for name, pin in (('bitsandbytes as shipped', False), ('pin_4bit_kernel', True)):
        m = load4(path, pin)
        d = full_vs_incremental(m, ids)  # (the first eval forward: this is where bitsandbytes repacks)
        packed = sum(bool(getattr(getattr(x.weight, 'quant_state', None), 'packing_format_for_cpu', False))
                     for x in m.modules() if hasattr(x, 'support_avx512bf16_for_cpu'))
        rows[name] = {'packed layers': packed, 'sample vs score max |Δ|': d.max().item(), 'mean |Δ|': d.mean().item(),
                      'input grad norm': input_grad_norm(m, ids)}
    native = bool(F.has_avx512bf16())
    print(f"SmolLM2 nf4, {ids.shape[1] - 1} tokens, bitsandbytes flag forced on; this CPU has AVX512-BF16: {native}")
    print(format_table(rows, '{:.3g}'))
    print(f"wrote {write_json(__file__, dict(machine=machine(), avx512bf16=native, text=TEXT, rows=rows))}")

if __name__ == '__main__': main()
