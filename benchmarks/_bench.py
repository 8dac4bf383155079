"Shared helpers of the benchmark scripts: model loading, machine facts, mean ± s.e. and JSON next to the script."
import json, os, platform, sys
from pathlib import Path
import numpy as np
import torch

def machine()->dict:
    return dict(platform=platform.platform(), cpus=os.cpu_count(), torch_threads=torch.get_num_threads(),
                cuda=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, python=sys.version.split()[0])

def load(model:str, dtype:torch.dtype=torch.float32):
    """A fresh (model, tokenizer): `tiny` is the random tiny LM (for smoke tests), anything else goes to `load_lm`.
    float32 by default, not `load_lm`'s CPU-dependent default: the studies' stored results were measured in float32, and a
    rerun or resume must compute the same thing on any CPU. Speed benchmarks pass their dtype."""
    from powerflow_nb.models import load_lm, tiny_lm
    if model != 'tiny': return load_lm(model, dtype=dtype)
    m, t = tiny_lm(seed=0)
    return m.to(dtype), t

def mean_se(xs)->tuple:
    x = np.asarray(xs, dtype=float)
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float('nan')

def json_path(script:str, suffix:str='')->Path:
    "<script stem><suffix>.json next to the script: where its results live."
    return Path(script).with_name(Path(script).stem + suffix + '.json')

def write_json(script:str, obj:dict, suffix:str='')->Path:
    "Write `obj` to `json_path(script, suffix)` atomically (an earlier result is never half-overwritten)."
    p = json_path(script, suffix)
    tmp = p.with_name(p.name + '.tmp')
    tmp.write_text(json.dumps(obj, indent=1, default=float))
    os.replace(tmp, p)
    return p

class Results:
    "A resumable results file: records keyed by (name, seed), written atomically after each one; refuses other settings."
    def __init__(self, script:str, settings:dict, suffix:str='', fresh:bool=False):
        self.script, self.suffix, self.path = script, suffix, json_path(script, suffix)
        old = json.loads(self.path.read_text()) if self.path.exists() and not fresh else None
        if old is not None and old.get('settings') != settings:
            raise SystemExit(f"{self.path} holds a run with other settings:\n  {old.get('settings')}\nvs now\n  {settings}\n"
                             "(pass --fresh to start a new one, or the same settings to continue it)")
        self.data = old or dict(settings=settings, machine=machine(), runs={}, invocations=[])
    def get(self, name:str, seed:int): return self.data['runs'].get(name, {}).get(str(seed))
    def put(self, name:str, seed:int, record:dict):
        self.data['runs'].setdefault(name, {})[str(seed)] = record; self.save()
    def records(self, name:str)->list: return [r for _, r in sorted(self.data['runs'].get(name, {}).items(), key=lambda kv: int(kv[0]))]
    def save(self): return write_json(self.script, self.data, self.suffix)
