"""Write README.md from nbs/index.ipynb and the results page benchmarks/README.md from nbs/results.ipynb (executed,
`#| hide` cells dropped), without quarto.
Usage: python .ci/readme.py [--check]   (--check: exit 1 when either page is out of date)"""
import os, re, sys, tempfile, nbformat
from pathlib import Path
from nbconvert import MarkdownExporter
from nbconvert.preprocessors import ExecutePreprocessor

root = Path(__file__).resolve().parent.parent
PAGES = {'index': root / 'README.md', 'results': root / 'benchmarks' / 'README.md'}

def render(name:str)->str:
    nb = nbformat.read(root / 'nbs' / f'{name}.ipynb', as_version=4)
    nb.cells = [c for c in nb.cells if not re.search(r'^#\|\s*hide\b', c.source, re.M)]
    ExecutePreprocessor(timeout=600, kernel_name='python3').preprocess(nb, {'metadata': {'path': str(root / 'nbs')}})
    for c in nb.cells:
        if c.cell_type == 'code': c.source = re.sub(r'^#\|.*\n?', '', c.source, flags=re.M)
    text, _ = MarkdownExporter(exclude_raw=True).from_notebook_node(nb)
    return re.sub(r'\n{3,}', '\n\n', text).strip() + '\n'

stale = []
for name, page in PAGES.items():
    text = render(name)
    if '--check' in sys.argv:
        if not page.exists() or page.read_text() != text: stale.append(f"{page.relative_to(root)} (from nbs/{name}.ipynb)")
        continue
    fd, tmp = tempfile.mkstemp(dir=page.parent, suffix='.md.tmp')
    with os.fdopen(fd, 'w') as f: f.write(text)
    os.replace(tmp, page)
    print(f'wrote {page}')
if stale: sys.exit(f"out of date: {', '.join(stale)}; run `python .ci/readme.py` and commit them")
if '--check' in sys.argv: print('README.md and benchmarks/README.md are up to date')
