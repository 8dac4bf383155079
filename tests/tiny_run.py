"A tiny LA-TB run on tiny_lm, driven by tests/test_train.py (also under `accelerate launch`)."
import argparse, torch
from pathlib import Path
from powerflow_nb.models import tiny_lm
from powerflow_nb.train import LATBConfig, train_latb

PROMPTS = ['1+1=', '2+3=', 'hello', 'abc', 'xyz', '7*6=']

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--steps', type=int, default=6)
    ap.add_argument('--save-every', type=int, default=3)
    ap.add_argument('--resume', action='store_true')
    ap.add_argument('--dump', help='folder where every process writes its LoRA weights as rank<i>.pt')
    a = ap.parse_args()
    torch.set_num_threads(1)
    model, tok = tiny_lm(seed=0)
    cfg = LATBConfig(steps=a.steps, prompts_per_step=2, n_rollouts=3, max_new_tokens=10, lr=5e-3, logz_lr=5e-2,
                     save_every=a.save_every, out_dir=a.out, resume=a.resume, progress=False, seed=1)
    res = train_latb(model, PROMPTS, alpha=3.0, config=cfg, tokenizer=tok)
    if a.dump:
        from accelerate import PartialState
        sd = {k: v.detach().cpu() for k, v in res.model.named_parameters() if 'lora' in k}
        Path(a.dump).mkdir(parents=True, exist_ok=True)
        torch.save(sd, Path(a.dump) / f'rank{PartialState().process_index}.pt')
