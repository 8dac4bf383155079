"""Property-based tests (hypothesis) of every public numeric entry point of escort, toy, objectives, samplers, eval and data.

One hostile value is substituted for one argument of a valid call (`CASES`). The property: the call either returns, and
every float or tensor in the result is finite (save documented -inf log-probs / +inf results) and passes the case's cheap
invariant, or it raises ValueError/TypeError whose message names the argument. NaN, and a bool where a number is expected,
have no correct answer: returning silently fails. Other exceptions, runaway CPU time (`Hang`) or memory fail. Numpy
scalars of a valid value must give what the Python number gives.

Skipped, and why: `evaluate_*`, `embed_texts`, `semantic_diversity`, `base_loglik`, `quality_proxy`, `power_texts` and
`matching_plot` need a real HF model; `matching_figure` and `amortisation_figure` draw figures; `grade`, `accuracy`,
`extract_answer`, `has_boxed`, `checksum`, `creative`, `load_prompts`, `get_objective` take strings or `Prompt`s (numeric
answers are covered through `is_correct`); `format_table` only formats numbers for printing; `ToyLM.step/select` are the
decoder protocol's internals (exercised by every sampler); `counterexample`, `enum_mask` and `empirical_logp` take no
number (valid call only); inside `toy_from_dict` only `max_len` is substituted (its probabilities sit in nested dicts).
"""
import dataclasses, math, re, resource, signal
from functools import partial
import numpy as np, pytest, torch
from hypothesis import Phase, example, given, settings, strategies as st
from powerflow_nb import data as D, escort as E, eval as V, objectives as O, samplers as S, toy as T

nan, inf = math.nan, math.inf
LM, LM1 = T.random_toy(3, 2, n_prompts=2), T.random_toy(3, 2)  # 7 completions of <= 2 tokens; two prompts / one

def r(*shape, seed=0): return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
def g(): return torch.Generator().manual_seed(0)

# ---- cheap invariants ---------------------------------------------------------------------------------------------------
def _t(x): return (x if torch.is_tensor(x) else torch.as_tensor(np.asarray(x, dtype=float))).detach().double()
def _tol(x): return {torch.float16: 2e-2, torch.bfloat16: 2e-2, torch.float32: 1e-4}.get(getattr(x, 'dtype', None), 1e-6)

def within(x, lo, hi, tol=1e-6):
    x = _t(x)
    assert ((x >= lo - tol) & (x <= hi + tol)).all(), f"expected values in [{lo}, {hi}], got {x}"

def normed(x, dim=-1):
    s = _t(x).logsumexp(int(dim)) if torch.as_tensor(x).numel() else torch.zeros(0)
    assert (s.abs() <= _tol(x)).all(), f"not normalised along dim={dim}: log of the total mass {s}"

def sums_to_1(x, dim=-1):
    within(x, 0, 1, _tol(x)); s = _t(x).sum(int(dim))
    assert ((s - 1).abs() <= _tol(x)).all(), f"probabilities along dim={dim} sum to {s}"

def samples_ok(o, kw):
    within(o.lengths, 1, LM.max_len + 1); within(o.tokens, 0, LM.vocab_size - 1); within(o.seq_logp, -inf, 0)
    within(o.prompt_index, 0, len(kw['prompts']) - 1)

def ci_ok(o, lo, hi): within(o['lo'], -inf, o['hi']); within([o['mean'], o['lo'], o['hi']], lo, hi)
def data_range(x): x = np.asarray(x, dtype=float); return np.nanmin(x), np.nanmax(x)

def loss_ok(tb):
    def check(o, kw):
        if tb: within(o.per_seq, 0, inf); within(o.loss, 0, inf)
    return check

def entropy_ok(o, kw, exp=False):
    n = torch.as_tensor(kw['logp']).shape[int(kw['dim'])]
    assert n or not o.numel(), f"returned {o} for a categorical with no outcome"
    if n: within(o, 1, n) if exp else within(o, 0, math.log(n))

def compare_ok(o, kw):
    for row in o.values():
        within(row['KL(.||p_α)'], 0, inf); within(row['TV(.,p_α)'], 0, 1); within(row['entropy'], 0, inf); within(row['E|y|'], 1, LM.max_len)

def study_ok(o, kw):
    for row in o.values():
        within([row['order π*'], row['order temp']], 0, 1); within([row['KL(π*‖p_α)'], row['KL(temp‖p_α)'], row['KL(π*‖temp)']], 0, inf)

def tv_budget_ok(o, kw):
    for cells in o.values():
        for c in cells.values(): within(c['tv'], 0, 1); normed(c['logp'])

def drawn_ok(o, kw):
    lw = _t(kw['logw']); within(o, 0, lw.shape[-1] - 1)
    assert (lw.gather(-1, o) > -inf).all(), f"drew an index of weight 0: {o} from {lw}"

# ---- the table of valid calls -------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Case:
    fn: callable; make: callable  # a valid call: fn(**make())
    scalars: str = ''; tensors: str = ''  # the arguments that take a number / a tensor or sequence
    check: callable = None  # check(out, kwargs): the case's invariant
    allow: str = ''  # correct non-finite outputs: '-inf' (log-probs of impossible outcomes), '+inf' (documented)
    nan_ok: tuple = (); bools: tuple = ()  # arguments where NaN is documented (missing values) / that take True and False
    live: callable = None  # live(kwargs) -> {arg: bool mask}: where an entry matters (not padding)
    also: dict = dataclasses.field(default_factory=dict)  # {arg: other arg}: an inconsistency may be named by the other one
    name: str = ''
    def __post_init__(self):
        self.scalars, self.tensors = tuple(self.scalars.split()), tuple(self.tensors.split())
        self.name = self.name or self.fn.__qualname__

C = Case
MASK = torch.tensor([[1, 1, 1], [1, 1, 0], [1, 0, 0], [1, 1, 1]], dtype=torch.bool)

def objective_kw(token, rl):
    lp = -(r(4, 3, seed=1) if token else r(4, seed=1)).abs() - 0.1
    kw = dict(logpi=lp, logp=-(r(*lp.shape, seed=2)).abs() - 0.1, logz=None if rl else r(4, seed=3), alpha=2.0, logpi_old=lp + 0.1,
              psi=torch.zeros(4, dtype=torch.float64), eps=0.25, weights=torch.tensor([.5, 1., 1.5, 1.], dtype=torch.float64))
    return kw | (dict(mask=MASK.clone()) if token else dict(lengths=torch.tensor([1, 2, 3, 2]))) | (dict(group=2) if rl else {})

OBJ = []
for f, token in ((O.latb, False), (O.tb_traj, False), (O.rl_traj, False), (O.tb_token, True), (O.rl_token, True)):
    rl, make = f in (O.rl_traj, O.rl_token), partial(objective_kw, token, f in (O.rl_traj, O.rl_token))
    live = (lambda kw: {k: kw['mask'] for k in ('logpi', 'logp', 'logpi_old')}) if token else None
    OBJ.append(C(f, make, 'alpha eps' + ' group' * rl, f"logpi logp {'mask' if token else 'lengths'} logpi_old psi weights" + ' logz' * (not rl),
                 loss_ok(not rl), live=live))
    if rl: OBJ.append(C(f, lambda make=make: make() | dict(baseline=r(4, seed=5)), '', 'baseline', live=live, name=f.__name__ + '+baseline'))

TABLES = {(): {'a': .5, 'b': .5}, ('a',): {'<eos>': 1.}, ('b',): {'<eos>': .5, 'a': .5}}
SMP = dict(lm=LM, prompts=[0, 1], alpha=2.0, n=2, max_new_tokens=2)
SMP_S = 'alpha n budget max_new_tokens'
CORRECT = np.array([[1, 0, 1], [0, 0, 1]], dtype=bool)
B3 = (r(2, 3, 2, seed=4) > 0).double().numpy()

CASES = [
    # escort
    C(E.check_logp, lambda: dict(logp=r(2, 3), dim=-1), 'dim', 'logp', allow='-inf'),
    C(E.check_probs, lambda: dict(p=r(2, 3).softmax(-1), dim=-1), 'dim', 'p', lambda o, kw: within(o, 0, inf)),
    C(E.escort_logp, lambda: dict(logp=r(2, 3), alpha=2.0, dim=-1), 'alpha dim', 'logp', lambda o, kw: normed(o, kw['dim']), '-inf'),
    C(E.escort, lambda: dict(p=r(2, 3).softmax(-1), alpha=2.0, dim=-1), 'alpha dim', 'p', lambda o, kw: sums_to_1(o, kw['dim'])),
    C(E.entropy, lambda: dict(logp=r(2, 3).log_softmax(-1), dim=-1), 'dim', 'logp', entropy_ok),
    C(E.effective_support, lambda: dict(logp=r(2, 3).log_softmax(-1), dim=-1), 'dim', 'logp', partial(entropy_ok, exp=True)),
    # toy
    C(T.ToyLM, lambda: dict(logp=LM.table.clone(), max_len=2, eos_id=0), 'max_len eos_id', 'logp', lambda o, kw: normed(o.table), '-inf'),
    C(T.ToyLM.from_probs, lambda: dict(probs=LM.table.exp(), max_len=2, eos_id=0), 'max_len eos_id', 'probs', lambda o, kw: normed(o.table), '-inf'),
    C(T.toy_from_dict, lambda: dict(tables=TABLES, vocab=['<eos>', 'a', 'b'], max_len=2), 'max_len', '', allow='-inf', also={'max_len': 'tables'}),
    C(T.counterexample, dict, allow='-inf'),
    C(T.random_toy, lambda: dict(vocab_size=3, max_len=2, n_prompts=2, sharpness=1.0, eos_logit=0.0, seed=0),
      'vocab_size max_len n_prompts sharpness eos_logit seed', '', lambda o, kw: normed(o.table), '-inf'),
    *[C(f, lambda: dict(lm=LM, alpha=2.0), 'alpha', '', lambda o, kw: normed(o if torch.is_tensor(o) else o.table if isinstance(o, T.ToyLM) else o[0]),
        '-inf') for f in (T.power_logp, T.tempered, T.temperature_logp, T.latb_logp)],
    C(T.latb_fixed_point, lambda: dict(logp=LM.seq_logp.clone(), lengths=LM.lengths.clone(), alpha=2.0, iters=60), 'alpha iters', 'logp lengths',
      lambda o, kw: normed(o[0]), '-inf'),
    C(T.kl, lambda: dict(logp=T.power_logp(LM, 2.0), logq=LM.seq_logp.clone()), '', 'logp logq', lambda o, kw: within(o, 0, inf), '+inf'),
    C(T.tv, lambda: dict(logp=T.power_logp(LM, 2.0), logq=LM.seq_logp.clone()), '', 'logp logq', lambda o, kw: within(o, 0, 1)),
    C(T.expected_length, lambda: dict(logp=T.power_logp(LM, 2.0), lengths=LM.lengths.clone()), '', 'logp lengths',
      lambda o, kw: within(o, _t(kw['lengths']).min(), _t(kw['lengths']).max())),
    C(T.token_marginal, lambda: dict(lm=LM, logp=T.power_logp(LM, 2.0), position=0), 'position', 'logp',
      lambda o, kw: (within(o, 0, 1), within(o.sum(-1), 0, 1))),
    C(T.compare, lambda: dict(lm=LM, alpha=2.0, prompt=0), 'alpha prompt', '', compare_ok),
    C(T.order_agreement, lambda: dict(logp=T.latb_logp(LM, 2.0)[0], ref=T.power_logp(LM, 2.0)), '', 'logp ref', lambda o, kw: within(o, 0, 1)),
    C(T.sharpness_study, lambda: dict(sharpness=[1.0], alphas=[2.0], seeds=1, vocab_size=3, max_len=2), 'seeds vocab_size max_len',
      'sharpness alphas', study_ok),
    C(T.budget_outcomes, lambda: dict(lm=LM, budget=1), 'budget', '', lambda o, kw: within(o[0], 0, len(LM.lengths) - 1)),
    C(T.outcome_logp, lambda: dict(logp=LM.seq_logp.clone(), ids=T.budget_outcomes(LM, 1)[0]), '', 'logp ids',  # the mass is kept
      lambda o, kw: within(_t(o).logsumexp(-1) - _t(kw['logp']).logsumexp(-1), 0, 0), '-inf'),
    C(T.truncation_target, lambda: dict(lm=LM, budget=1, alpha=2.0, penalty=-0.5), 'budget alpha penalty', '', lambda o, kw: normed(o[0]), '-inf'),
    C(LM.start, lambda: dict(prompts=[0, 1]), '', 'prompts', lambda o, kw: normed(o[1]), '-inf', name='ToyLM.start'),
    # objectives
    C(O.leave_one_out_mean, lambda: dict(x=r(4), keep=torch.tensor([True, True, False, True]), group=2), 'group', 'x keep'),
    *OBJ,
    C(O.ScalarLogZ, lambda: dict(n_prompts=3, init=0.0), 'n_prompts init', ''),
    C(O.ScalarLogZ(3).forward, lambda: dict(prompt_ids=torch.tensor([0, 2])), '', 'prompt_ids', name='ScalarLogZ.forward'),
    C(O.LogZHead, lambda: dict(hidden_size=4, width=8), 'hidden_size width', ''),
    C(O.LogZHead(4).forward, lambda: dict(hidden=r(2, 3, 4), mask=torch.ones(2, 3, dtype=torch.bool)), '', 'hidden mask', name='LogZHead.forward',
      also={'hidden': 'mask', 'mask': 'hidden'}),
    C(O.prefix_index, lambda: dict(lm=LM, tokens=LM.tokens[:5].clone(), mask=O.enum_mask(LM)[:5].clone()), '', 'tokens mask',
      lambda o, kw: within(o, 0, int(LM.offsets[-1]) - 1), live=lambda kw: {'tokens': kw['mask']}),
    C(O.enum_mask, lambda: dict(lm=LM)),
    C(O.table_token_logp, lambda: dict(table=LM.table.clone(), lm=LM, prompts=torch.tensor([0, 1, 0, 1, 1]), tokens=LM.tokens[:5].clone(),
                                       mask=O.enum_mask(LM)[:5].clone()), '', 'table prompts tokens mask',
      lambda o, kw: within(o, -inf, 0), '-inf', live=lambda kw: {'tokens': kw['mask']}),
    C(O.enum_token_logp, lambda: dict(table=LM.table.clone(), lm=LM), '', 'table', lambda o, kw: within(o, -inf, 0), '-inf'),
    C(O.table_from_logp, lambda: dict(lm=LM, seq_logp=T.power_logp(LM, 2.0)), '', 'seq_logp', lambda o, kw: normed(o), '-inf'),
    C(O.ToyPolicy, lambda: dict(lm=LM, hidden=8, depth=1, seed=0), 'hidden depth seed', '', lambda o, kw: normed(o.table())),
    C(O.expected_loss, lambda: dict(objective='latb', table=LM.table.clone(), lm=LM, alpha=2.0, logz=torch.zeros(2, dtype=torch.float64)),
      'alpha', 'table logz', lambda o, kw: within(o.loss, 0, inf)),
    C(O.exact_fixed_point, lambda: dict(lm=LM, objective='latb', alpha=2.0, steps=3, lr=0.0625), 'alpha steps lr', '',
      lambda o, kw: normed(o[0]), '-inf'),
    C(O.objective_fixed_point, lambda: dict(lm=LM, objective='tb_traj', alpha=2.0), 'alpha', '', lambda o, kw: normed(o[0]), '-inf'),
    C(O.init_logz, lambda: dict(logz=O.ScalarLogZ(2), residual=r(4), prompts=torch.tensor([0, 1, 0, 1])), '', 'residual prompts',
      lambda o, kw: within(kw['logz'].value, -1e300, 1e300)),
    # samplers
    C(S.resample_index, lambda: dict(logw=r(2, 5), k=3, generator=g()), 'k', 'logw', drawn_ok),
    C(S.ess, lambda: dict(logw=r(2, 5)), '', 'logw', lambda o, kw: within(o, 1, (_t(kw['logw']).shape or [1])[-1])),
    C(S.toy_index, lambda: dict(lm=LM, tokens=LM.tokens.clone(), lengths=LM.lengths.clone()), '', 'tokens lengths',
      lambda o, kw: within(o, 0, len(LM.lengths) - 1), live=lambda kw: {'tokens': torch.arange(LM.max_len) < kw['lengths'][:, None]}),
    C(S.empirical_logp, lambda: dict(lm=LM, samples=S.sample_temperature(LM, [0], 2.0, n=8, generator=g())), allow='-inf'),
    C(S.sample_temperature, lambda: SMP | dict(budget=1, generator=g()), SMP_S, 'prompts', samples_ok),
    C(S.sir_resample, lambda: dict(seq_logp=r(2, 4) - 3, alpha=2.0, n=3, generator=g()), 'alpha n', 'seq_logp',
      lambda o, kw: (within(o[0], 0, 7), within(o[1], 1, 4))),
    C(S.sample_sir, lambda: SMP | dict(budget=4, generator=g()), SMP_S, 'prompts', samples_ok),
    C(S.sample_mh, lambda: SMP | dict(budget=2, block_size=1, generator=g()), SMP_S + ' block_size', 'prompts', samples_ok),
    C(S.sample_smc, lambda: SMP | dict(budget=4, ess_threshold=0.5, generator=g()), SMP_S + ' ess_threshold', 'prompts', samples_ok),
    C(S.power_sample, lambda: SMP | dict(method='smc', budget=4, generator=g()), SMP_S, 'prompts', samples_ok),
    C(S.tv_vs_budget, lambda: dict(lm=LM1, alpha=2.0, methods=('temperature', 'sir'), budgets=[1, 2], runs=8, seed=0), 'alpha runs seed',
      'budgets', tv_budget_ok, '-inf'),
    # eval
    C(V.pass_at_k, lambda: dict(n=10, c=3, k=2), 'n c k', '', lambda o, kw: within(o, 0, 1)),
    C(V.avg_at_k, lambda: dict(correct=CORRECT.copy()), '', 'correct', lambda o, kw: (within(o[0], 0, 1), within(o[1], 0, inf))),
    C(V.pass_at_k_matrix, lambda: dict(correct=CORRECT.copy(), k=2), 'k', 'correct', lambda o, kw: (within(o[0], 0, 1), within(o[1], 0, inf))),
    C(V.bootstrap_ci, lambda: dict(correct=B3.copy(), level=0.75, n_boot=50, seed=0), 'level n_boot seed', 'correct',
      lambda o, kw: ci_ok(o, *data_range(kw['correct'])), nan_ok=('correct',)),
    C(V.paired_bootstrap_ci, lambda: dict(a=B3.copy(), b=B3[::-1].copy(), level=0.75, n_boot=50, seed=0), 'level n_boot seed', 'a b',
      lambda o, kw: ci_ok(o, data_range(kw['a'])[0] - data_range(kw['b'])[1], data_range(kw['a'])[1] - data_range(kw['b'])[0]), nan_ok=('a', 'b')),
    C(V.distinct_n, lambda: dict(texts=['a b c', 'a b d'], n=2), 'n', '', lambda o, kw: within(o, 0, 1)),
    C(V.length_stats, lambda: dict(lengths=torch.tensor([3, 5, 2])), '', 'lengths',
      lambda o, kw: (within([o['mean'], o['median']], o['min'], o['max']), within(o['std'], 0, inf))),
    C(V.fit_line, lambda: dict(x=[0., 1., 2., 3.], y=[1., 3., 5., 7.5]), '', 'x y', lambda o, kw: within(o['r2'], -inf, 1)),
    C(V.pairwise_cosine_diversity, lambda: dict(emb=r(3, 4)), '', 'emb', lambda o, kw: within(o, 0, 2)),
    C(V.crossing, lambda: dict(xs=[1., 2., 3.], ys=[.125, .5, .875], level=0.375), 'level', 'xs ys',
      lambda o, kw: None if o is None else within(min(abs(o - x) for x in kw['xs']), 0, 0)),
    C(V.break_even, lambda: dict(train_tokens=1000., trained_per_answer=100., sampler_per_answer=300.),
      'train_tokens trained_per_answer sampler_per_answer', '', lambda o, kw: within(o, 0, inf), '+inf'),
    # data
    C(D.arithmetic, lambda: dict(split='eval', n=3, levels=(1,), seed=0), 'n seed', 'levels', lambda o, kw: within(len(o), kw['n'], kw['n'])),
    C(D.is_correct, lambda: dict(text=r'so \boxed{4}', answer=4, ended=True), 'answer ended', '', bools=('ended',)),
    C(D.format_penalty, lambda: dict(text='no box', penalty=-0.5), 'penalty', ''),
]

# ---- hostile values -----------------------------------------------------------------------------------------------------
SCALARS = [nan, inf, -inf, 1e308, -1e308, 1e-308, 0, -1, 0.5, np.float32(2.0), np.int64(3), np.float64(nan), np.float32(nan),
           True, False, 2**63, 10**30]
KINDS = ['nan', '+inf', '-inf', 'huge', 'empty', 'ragged', 'int', 'bool', '0-d', 'float16']
TENSOR_EXAMPLES = [(k, 0) for k in KINDS] + [('empty', 1), ('huge', 1)]

def hostile(valid, kind, i, live=None):
    "`valid` (tensor, array, list or tuple) spoilt by `kind`; entry kinds hit the i-th live entry (mod their number)."
    t = valid.clone() if torch.is_tensor(valid) else torch.as_tensor(np.asarray(valid))
    where = (torch.ones(t.shape, dtype=torch.bool) if live is None else live).flatten().nonzero().squeeze(-1)
    j = int(where[i % len(where)]) if len(where) else 0
    if kind in ('nan', '+inf', '-inf', 'huge'):
        x = (t if t.is_floating_point() or kind == 'huge' else t.double()).flatten().clone()
        if x.dtype == torch.bool: x = x.long()
        big = 1e30 if x.is_floating_point() else 2**62
        x[j] = {'nan': nan, '+inf': inf, '-inf': -inf, 'huge': big if i % 2 == 0 else -big}[kind]
        x = x.view(t.shape)
    elif kind == 'empty': x = t.flatten()[:0] if i % 2 else t[:0]
    elif kind == 'ragged':
        rows = t.tolist() if t.ndim > 1 else [t.tolist()] * 2
        return rows[:-1] + [rows[-1][:-1]]
    elif kind == 'int': x = t.round().long() if t.is_floating_point() else t.double()
    elif kind == 'bool': x = t != 0
    elif kind == '0-d': x = t.flatten()[j]
    else: x = t.half()
    return x if torch.is_tensor(valid) else x.numpy() if isinstance(valid, np.ndarray) else x.tolist()

# ---- the property -------------------------------------------------------------------------------------------------------
class Hang(Exception): "The call ran past its CPU-time limit."
class _Alarm(BaseException): "Raised by the CPU-time alarm; a BaseException, so that no `except Exception` swallows it."
def _alarm(*_): raise _Alarm()

def call(fn, kw, cpu=2.0):
    "fn(**kw) with `cpu` s of CPU time and 3 GiB more address space (a runaway allocation fails instead of swamping the machine)."
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize() + (3 << 30)
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    old, runaway = signal.signal(signal.SIGPROF, _alarm), None
    signal.setitimer(signal.ITIMER_PROF, cpu, 0.05)  # and again every 0.05 s until it stops
    try:
        with torch.random.fork_rng():  # modules initialise from the global RNG: the same weights on every call
            torch.manual_seed(0)
            return fn(**kw)
    except (_Alarm, MemoryError, RuntimeError) as e:
        if not isinstance(e, RuntimeError) or 'allocate' in str(e): runaway = f"{type(e).__name__} {str(e)[:150]}"
        else: raise
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0); signal.signal(signal.SIGPROF, old)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    # raised here, without the traceback, so that what the runaway call built is freed now
    raise Hang(f"no result after {cpu} s of CPU time") if runaway.startswith('_Alarm') else MemoryError(f"runaway allocation: {runaway}")

def leaves(x, path='out'):
    "(path, tensor) for every number in a result: tensors, arrays and floats inside tuples, lists, dicts, dataclasses, modules."
    if torch.is_tensor(x): yield path, x.detach()
    elif isinstance(x, np.ndarray): yield path, torch.as_tensor(x.astype(float) if x.dtype.kind in 'biuf' else np.zeros(0))
    elif isinstance(x, (float, np.floating)): yield path, torch.tensor(float(x), dtype=torch.float64)
    elif isinstance(x, dict): yield from (l for k, v in x.items() for l in leaves(v, f'{path}[{k!r}]'))
    elif isinstance(x, (list, tuple)): yield from (l for i, v in enumerate(x) for l in leaves(v, f'{path}[{i}]'))
    elif dataclasses.is_dataclass(x): yield from (l for f in dataclasses.fields(x) for l in leaves(getattr(x, f.name), f'{path}.{f.name}'))
    elif isinstance(x, T.ToyLM): yield path + '.table', x.table
    elif isinstance(x, torch.nn.Module): yield from ((f'{path}.{k}', v) for k, v in x.state_dict().items())

def check_output(case, out, kw):
    for path, t in leaves(out):
        if not t.is_floating_point(): continue
        bad = torch.isnan(t) | ((t == inf) & ('+inf' not in case.allow)) | ((t == -inf) & ('-inf' not in case.allow))
        assert not bad.any(), f"non-finite output {path} = {t if t.numel() <= 8 else t[bad][:4]}"
    if case.check: case.check(out, kw)

def names(msg, arg):
    "Whether `msg` names `arg` (a one- or two-letter name only as a name: followed by 'must', '=', a quote, ...)."
    tail = r"(?=\s*(must|is|has|contains|and|[,=:()'\"]))" if len(arg) <= 2 else ''
    return re.search(rf"(?<!\w){re.escape(arg)}(?!\w){tail}", msg) is not None

def holds(case, kw, arg, what, nan_in=False, bool_in=False):
    try: out = call(case.fn, kw)
    except (ValueError, TypeError) as e:
        assert names(str(e), arg) or (arg in case.also and names(str(e), case.also[arg])), f"{case.name}({arg}={what}): {type(e).__name__} does not name {arg!r}: {e}"
        return
    assert not nan_in, f"{case.name}({arg}={what}): NaN accepted silently, returned {str(out)[:200]}"
    assert not bool_in, f"{case.name}({arg}={what}): a bool accepted as a number, returned {str(out)[:200]}"
    check_output(case, out, kw)

def with_examples(values):
    def deco(f):
        for v in values: f = example(value=v)(f)
        return f
    return deco

SET = settings(max_examples=4, deadline=None, database=None, phases=[Phase.explicit, Phase.generate])
ids = lambda pairs: [f'{c.name}-{a}' for c, a in pairs]
S_PAIRS = [(c, a) for c in CASES for a in c.scalars]
T_PAIRS = [(c, a) for c in CASES for a in c.tensors]

# ---- the tests ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope='module', autouse=True)
def warm():
    "Run every valid call once, untimed: first calls pay for lazy imports (optimisers, math-verify), not for hostile input."
    for case in CASES:
        try: case.fn(**case.make())
        except Exception: pass  # test_valid_call reports it

@pytest.mark.parametrize('case', CASES, ids=[c.name for c in CASES])
def test_valid_call(case):
    "The valid call of every case returns finite values that pass its invariant."
    kw = case.make()
    check_output(case, call(case.fn, kw), kw)

@pytest.mark.parametrize('case, arg', S_PAIRS, ids=ids(S_PAIRS))
@SET
@with_examples(SCALARS)
@given(value=st.sampled_from(SCALARS) | st.floats() | st.integers(-3, 12))
def test_hostile_scalar(case, arg, value):
    kw = case.make()
    kw[arg] = value
    isnan = isinstance(value, (float, np.floating)) and math.isnan(value)
    holds(case, kw, arg, repr(value), isnan and arg not in case.nan_ok, isinstance(value, (bool, np.bool_)) and arg not in case.bools)

@pytest.mark.parametrize('case, arg', T_PAIRS, ids=ids(T_PAIRS))
@SET
@with_examples(TENSOR_EXAMPLES)
@given(value=st.tuples(st.sampled_from(KINDS), st.integers(0, 1000)))
def test_hostile_tensor(case, arg, value):
    kw = case.make()
    kind, i = value
    kw[arg] = hostile(kw[arg], kind, i, (case.live(kw) if case.live else {}).get(arg))
    holds(case, kw, arg, f'{kind}#{i}', kind == 'nan' and arg not in case.nan_ok)

NP_PAIRS = [(c, a, t) for c, a in S_PAIRS for v in [c.make()[a]] if not isinstance(v, bool)
            for t in ((np.int64, np.int32) if isinstance(v, int) else (np.float64, np.float32) if float(np.float32(v)) == v else (np.float64,))]

@pytest.mark.parametrize('case, arg, np_type', NP_PAIRS, ids=[f'{c.name}-{a}-{t.__name__}' for c, a, t in NP_PAIRS])
def test_numpy_scalar_is_the_python_number(case, arg, np_type):
    "A numpy scalar holding a valid value is accepted and gives what the Python number gives."
    kw = case.make()
    want = [t for _, t in leaves(call(case.fn, kw))]
    kw = case.make()
    kw[arg] = np_type(kw[arg])
    got = [t for _, t in leaves(call(case.fn, kw))]
    assert len(got) == len(want) and all(a.shape == b.shape and torch.allclose(a.double(), b.double(), equal_nan=True) for a, b in zip(got, want)), \
        f"{case.name}({arg}={np_type.__name__}(...)) differs from the Python number's result"
