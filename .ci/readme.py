"""Write README.md from nbs/index.ipynb (executed, `#| hide` cells dropped), without quarto.
Usage: python .ci/readme.py [--check]   (--check: exit 1 when README.md is out of date)"""
import os, re, sys, tempfile, nbformat
from pathlib import Path
from nbconvert import MarkdownExporter
from nbconvert.preprocessors import ExecutePreprocessor

root = Path(__file__).resolve().parent.parent
nb = nbformat.read(root / 'nbs' / 'index.ipynb', as_version=4)
nb.cells = [c for c in nb.cells if not re.search(r'^#\|\s*hide\b', c.source, re.M)]
ExecutePreprocessor(timeout=600, kernel_name='python3').preprocess(nb, {'metadata': {'path': str(root / 'nbs')}})
for c in nb.cells:
    if c.cell_type == 'code': c.source = re.sub(r'^#\|.*\n?', '', c.source, flags=re.M)
text, _ = MarkdownExporter(exclude_raw=True).from_notebook_node(nb)
text = re.sub(r'\n{3,}', '\n\n', text).strip() + '\n'
readme = root / 'README.md'
if '--check' in sys.argv:
    if not readme.exists() or readme.read_text() != text:
        sys.exit('README.md is out of date with nbs/index.ipynb: run `python .ci/readme.py` and commit it')
    print('README.md is up to date')
else:
    fd, tmp = tempfile.mkstemp(dir=root, suffix='.md.tmp')
    with os.fdopen(fd, 'w') as f: f.write(text)
    os.replace(tmp, readme)
    print(f'wrote {readme}')
