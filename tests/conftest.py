"Markers for the powerflow_nb test suite: `smollm2`, `slow`, `gpu` (gpu tests skip with a reason when CUDA is absent)."
import pytest

MARKERS = {'smollm2': 'loads the embedded SmolLM2-135M-Instruct (converted once per session into a temporary cache; about 1.5 min on 2 CPU cores)',
           'slow': 'slow test (deselect with -m "not slow")',
           'gpu': 'needs a CUDA GPU; skipped with a clear reason when CUDA is absent'}

def pytest_configure(config):
    for name, doc in MARKERS.items(): config.addinivalue_line('markers', f'{name}: {doc}')

def pytest_collection_modifyitems(config, items):
    import torch
    if torch.cuda.is_available(): return
    skip = pytest.mark.skip(reason='gpu test: CUDA is not available on this machine (torch.cuda.is_available() is False)')
    for item in items:
        if 'gpu' in item.keywords: item.add_marker(skip)
