"""Give every plotly figure stored in a notebook output a static PNG twin, so GitHub and nbviewer show the figure.
Each code-cell output whose `data` holds application/vnd.plotly.v1+json gets `image/png` (base64, rendered with plotly +
kaleido) in the same bundle; the plotly JSON stays, so JupyterLab still draws the interactive figure. Re-running
replaces the PNGs (never duplicates); notebooks are written as nbdev_clean writes them (a no-op for nbdev_clean after).
Usage: python .ci/static_figures.py [--check] [--width PX] [--height PX] [NOTEBOOK ...]
       (default: nbs/*.ipynb; --check: render nothing, exit 1 when a plotly output lacks image/png)"""
import argparse, base64, json, os, sys, tempfile, warnings
from pathlib import Path

root = Path(__file__).resolve().parent.parent
PLOTLY, PNG = 'application/vnd.plotly.v1+json', 'image/png'
LIMIT = 900_000      # bytes: PNGs are shrunk or skipped to keep a notebook under this (GitHub's viewer stops near 1 MB)
SCALES = (1, 0.75, 0.5)  # sizes tried, largest first, until the PNG fits the notebook's budget

def dumps(nb)->str:
    "The notebook text exactly as nbdev_clean (execnb's `nb2str`) writes it."
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + '\n'

def plotly_outputs(nb)->list:
    return [o for c in nb.get('cells', []) if c.get('cell_type') == 'code'
            for o in c.get('outputs', []) if PLOTLY in o.get('data', {})]

def warn(msg): print(f'  warning: {msg}', file=sys.stderr)

_server = False
def to_png(spec:dict, width:int, height:int, label:str='')->bytes:
    "Render a plotly figure dict to PNG bytes with kaleido (one Chromium kept open for the whole run)."
    global _server
    if Path('/usr/bin/chromium').exists(): os.environ.setdefault('BROWSER_PATH', '/usr/bin/chromium')  # for choreographer
    import plotly.graph_objects as go, kaleido
    if not _server: kaleido.start_sync_server(silence_warnings=True); _server = True
    parts = dict(data=spec.get('data', []), layout=spec.get('layout', {}), frames=spec.get('frames', []))
    try: fig = go.Figure(**parts)
    except ValueError as e:
        warn(f'{label}: figure does not validate with this plotly ({str(e).splitlines()[0]}); invalid properties skipped')
        fig = go.Figure(**parts, skip_invalid=True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # "kopts argument is ignored if using a server"
        return fig.to_image(format='png', width=width, height=height, scale=1)

def stop_server():
    if _server:
        import kaleido
        kaleido.stop_sync_server()

def process(path:Path, width:int, height:int, check:bool)->tuple:
    "Returns (figures, PNGs written or present, problems) for one notebook; writes it unless `check`."
    text = path.read_text(encoding='utf-8')
    nb = json.loads(text)
    outs = plotly_outputs(nb)
    old = len(text.encode('utf-8'))
    if check:
        missing = sum(PNG not in o['data'] for o in outs)
        print(f'{path}: {len(outs)} plotly figures, {len(outs) - missing} with PNG, {missing} missing, {old/1024:.0f} KB')
        return len(outs), len(outs) - missing, missing
    for o in outs: o['data'].pop(PNG, None)  # idempotent: old PNGs are replaced, and don't count against the budget
    budget = LIMIT - len(dumps(nb).encode('utf-8'))
    written = problems = 0
    for i, o in enumerate(outs, 1):
        label = f'{path.name} figure {i}'
        try:
            spec = o['data'][PLOTLY]
            if isinstance(spec, str): spec = json.loads(spec)
            layout = spec.get('layout', {})
            w, h = int(layout.get('width') or width), int(layout.get('height') or height)
            for s in SCALES:
                b64 = base64.b64encode(to_png(spec, round(w*s), round(h*s), label)).decode('ascii')
                cost = len(b64) + 40  # the key, quotes and indentation of the new line
                if cost <= budget: break
            else:
                warn(f'{label}: even a {round(w*s)}x{round(h*s)} PNG ({len(b64)/1024:.0f} KB) would take '
                     f'the notebook past {LIMIT/1000:.0f} KB; skipped')
                problems += 1; continue
        except Exception as e:
            warn(f'{label}: rendering failed: {type(e).__name__}: {e}')
            problems += 1; continue
        if s != 1: warn(f'{label}: shrunk to {round(w*s)}x{round(h*s)} to stay under {LIMIT/1000:.0f} KB')
        o['data'][PNG] = b64
        budget -= cost; written += 1
    new_text = dumps(nb)
    if new_text != text:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix='.ipynb.tmp')
        with os.fdopen(fd, 'w', encoding='utf-8') as f: f.write(new_text)
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    new = len(new_text.encode('utf-8'))
    print(f'{path}: {len(outs)} plotly figures, {written} PNGs written, {old/1024:.0f} KB -> {new/1024:.0f} KB'
          + ('' if new_text != text else ' (unchanged)'))
    return len(outs), written, problems

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('notebooks', nargs='*', type=Path, help='notebooks to process (default: nbs/*.ipynb)')
    p.add_argument('--check', action='store_true', help='render nothing; exit 1 when a plotly output lacks image/png')
    p.add_argument('--width', type=int, default=800, help='PNG width when the figure layout sets none (default 800)')
    p.add_argument('--height', type=int, default=450, help='PNG height when the figure layout sets none (default 450)')
    a = p.parse_args(argv)
    paths = a.notebooks or sorted((root / 'nbs').glob('*.ipynb'))
    problems = 0
    try:
        for path in paths: problems += process(path, a.width, a.height, a.check)[2]
    finally: stop_server()
    if a.check and problems: print(f'{problems} plotly outputs without image/png: run python .ci/static_figures.py')
    return 1 if problems else 0

if __name__ == '__main__': sys.exit(main())
