"""The demo's HTML report in a real browser (Debian Chromium through Playwright) at a laptop viewport, 1280×800: no
horizontal overflow (long answers wrap inside the page), the verdict and both graders' marks are shown. The report is
built from made-up evaluations, so the test needs no model. Set POWERFLOW_SKIP_BROWSER=1 to skip it on a machine
without Chromium."""
import os
import pytest

CHROMIUM = os.environ.get("POWERFLOW_CHROMIUM", "/usr/bin/chromium")
if os.environ.get("POWERFLOW_SKIP_BROWSER") == "1": pytest.skip("POWERFLOW_SKIP_BROWSER=1", allow_module_level=True)

def test_demo_report_fits_a_laptop(tmp_path):
    from playwright.sync_api import sync_playwright
    from powerflow_nb.cli import html_report, verdict, samples_table, _summary
    from powerflow_nb.data import Prompt
    from powerflow_nb.viz import history_figure
    items = [Prompt(f'What is {i} + {i}? Reply with the final answer in \\boxed{{}}.', 2 * i) for i in range(8)]
    long = 'word ' * 60 + 'averyveryverylongtokenwithoutanyspace' * 8
    ev = lambda texts: dict(texts=texts, ended=[True] * len(texts), avg_at_k=0.25, se=0.1, avg_at_k_lenient=0.5, pass_at_k=0.5,
                            format_rate=0.5, length={'mean': 12.0}, truncated_frac=0.0)
    before = ev([long, '1'] * 8)
    after = ev([f'{i} + {i} = \\boxed{{{2 * i}}}' for i in range(8) for _ in range(2)])
    said = verdict(before, after, items)
    hist = [dict(step=s, loss=1.0 / s, length=10.0 + s, logz=-1.0, base_logp_per_token=-2.0) for s in range(1, 9)]
    page_path = html_report(tmp_path / 'report.html', 'PowerFlow demo', [f'<p class="verdict">{said}</p>',
        {'base': _summary(before, True), 'PowerFlow α=4': _summary(after, True)}, samples_table(before, after, items),
        history_figure({'LA-TB': hist}, keys=['loss', 'length', 'logz', 'base_logp_per_token'])])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={'width': 1280, 'height': 800})
        page.goto(page_path.resolve().as_uri())
        page.wait_for_selector('.js-plotly-plot .main-svg')
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the report is {overflow} px wider than the 1280 px viewport"
        assert page.inner_text('.verdict').startswith('PowerFlow α = 4 helped')
        assert page.locator('span.ok', has_text='lenient ✓').count() >= 1 and page.locator('span.no', has_text='strict ✗').count() >= 1
        assert '\ufffd' not in page.inner_text('body')
        page.screenshot(path=str(tmp_path / 'report.png'), full_page=True)
        browser.close()
