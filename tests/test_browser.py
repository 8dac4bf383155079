"""Real-browser test of the α explorer: JupyterLab + Debian Chromium driven by Playwright.

Starts JupyterLab on 127.0.0.1 (random port, random token, throwaway config/runtime/settings dirs), writes a notebook
and runs all its cells from the menu.

* Toy LM (its vocabulary has a quote and an ampersand): moves α (preset button, then the keyboard on the slider handle)
  and checks that the columns and the figure changed, that the shown results are for the slider's α, and that no error
  is shown; then reloads the page and checks that the figure and columns render again (widget state restored); then,
  at a laptop-size viewport (1280×800), that the α slider, the summary and the figure are on screen at once, that the
  figure fits its container, that its legend and axis titles are on screen and the legend covers none of the titles,
  that no label shows an escaped `&quot;` or `&amp;`, and that the samples have a tab per method within the screen's
  width. That screen is the picture 09_widgets shows (`SCREENSHOT`).
* `tiny_lm` (a real, random LM): Re-sample changes the samples (and the seed), and ticking a method computes that
  method only (the other columns say they came from the cache); the ✓/✗ grader is named, and switching it to lenient
  re-grades without sampling; the shading key stands above the samples; a typed prompt shows in the dropdown; and at
  1280×800 the α slider, the summary and the figure are on screen at once here too.

Screenshots are saved under the test's tmp_path (printed; copied to $POWERFLOW_ARTIFACTS when set), except that with
POWERFLOW_UPDATE_SCREENSHOT=1 the laptop-size screen of the toy LM is written to the notebook's picture,
nbs/`SCREENSHOT`. The server (and its kernels) is always shut down.

Needs /usr/bin/chromium (`apt-get install -y chromium chromium-driver`; .ci/run installs it). Set
POWERFLOW_SKIP_BROWSER=1 to skip it explicitly on a machine without Chromium.
"""
import json, os, re, secrets, shutil, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

CHROMIUM = os.environ.get("POWERFLOW_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = "images/explorer.png" # the picture of the explorer that nbs/09_widgets.ipynb shows, relative to nbs/

if os.environ.get("POWERFLOW_SKIP_BROWSER") == "1": pytest.skip("POWERFLOW_SKIP_BROWSER=1", allow_module_level=True)

TOY_CELLS = [
    "from powerflow_nb.toy import ToyLM, random_toy\nfrom powerflow_nb.widgets import AlphaExplorer",
    "lm = random_toy(vocab_size=5, max_len=5, sharpness=1.5, eos_logit=0.5, seed=3)\n"
    "lm = ToyLM(lm.table, lm.max_len, lm.eos_id, names=['<eos>', 'a', '\"', '&', 'd'])  # token names that need escaping\n"
    "ex = AlphaExplorer(lm, n=4)\nex",
]
LM_CELLS = [
    "from powerflow_nb.models import tiny_lm\nfrom powerflow_nb.widgets import AlphaExplorer",
    "ex = AlphaExplorer(tiny_lm(seed=0), prompts=[('What is 2+3?', '5')], methods=['base', 'sir'], alpha=2.0, n=3, max_new_tokens=8, budget=2)\nex",
]

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]

def _write_notebook(path, sources):
    cells = [{"cell_type": "code", "id": f"cell{i}", "metadata": {}, "source": src, "outputs": [], "execution_count": None}
             for i, src in enumerate(sources)]
    nb = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}}
    path.write_text(json.dumps(nb))

def _wait_ready(url, proc, log, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None: raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200: return
        except OSError: time.sleep(0.3)
    raise RuntimeError(f"JupyterLab did not answer within {timeout} s:\n{log.read_text()[-3000:]}")

def _stop(proc):
    "Terminate the server (it shuts its kernels down), then kill whatever is left of its process group."
    if proc.poll() is None:
        proc.terminate()
        try: proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill(); proc.wait(timeout=10)
    try: os.killpg(proc.pid, signal.SIGKILL)  # leftover kernels; the group is ours (start_new_session)
    except (ProcessLookupError, PermissionError): pass

@pytest.fixture
def jupyter_lab(tmp_path):
    "A JupyterLab server on 127.0.0.1 with a random port and token, serving tmp_path/root; always shut down."
    root, home = tmp_path / "root", tmp_path / "jupyter"
    root.mkdir()
    for ext, name, value in [("apputils-extension", "notification", {"fetchNews": "false", "checkForUpdates": False}),
                             ("notebook-extension", "tracker", {"autoStartDefaultKernel": True})]:  # no news toast, no kernel dialog
        d = home / "lab-settings" / "@jupyterlab" / ext
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{name}.jupyterlab-settings").write_text(json.dumps(value))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"), JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
               IPYTHONDIR=str(home / "ipython"), PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    log = tmp_path / "jupyterlab.log"
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--LabApp.extension_manager=readonly", "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0: cmd.append("--allow-root")  # CI containers run as root
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_ready(f"http://127.0.0.1:{port}/api/status?token={token}", proc, log)
        yield dict(url=f"http://127.0.0.1:{port}", token=token, root=root, log=log)
    finally:
        _stop(proc)

def _status(page):
    "(state, α) of the explorer's status line."
    el = page.locator(".pf-explorer .pf-status-text").first
    return el.get_attribute("data-state"), el.get_attribute("data-alpha")

def _snapshot(page):
    "What the user sees: the columns' text and the figure's title and bar heights (as drawn in the SVG)."
    cols = page.locator(".pf-explorer .pf-columns").inner_text()
    title = page.locator(".pf-explorer .js-plotly-plot .gtitle").first.text_content()
    paths = page.locator(".pf-explorer .js-plotly-plot .barlayer path").evaluate_all("els => els.map(e => e.getAttribute('d'))")
    # a bar is "M x0,base V top H x1 V base Z": keep its height, not its x, which follows the container's width
    bars = [round(float(m[1]) - float(m[2]), 1) for m in (re.match(r"M[-\d.]+,([-\d.]+)V([-\d.]+)H", d) for d in paths) if m]
    return cols, title, bars

def _assert_no_error(page):
    assert page.locator(".pf-explorer .pf-error").count() == 0, page.locator(".pf-explorer .pf-error").first.inner_text()
    outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
    assert not any("Traceback" in o or "Error" in o for o in outputs), outputs

def _open(page, lab, name):
    "Open notebook `name` in JupyterLab and wait until its kernel is idle."
    page.goto(f"{lab['url']}/lab/tree/{name}?token={lab['token']}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    page.wait_for_timeout(500)
    if page.locator(".jp-Dialog").count():  # a kernel-selection dialog despite the setting: accept the default
        page.locator(".jp-Dialog .jp-mod-accept").click()
    # the kernel is connected and idle (status bar: "Python 3 (ipykernel) | Idle")
    from playwright.sync_api import expect
    expect(page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\| Idle")).first).to_be_visible(timeout=60_000)

def _run_all(page):
    "Run > Run All Cells, from the menu bar."
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

def _title_is(page, text, timeout=30_000):
    page.wait_for_function(f"document.querySelector('.pf-explorer .js-plotly-plot .gtitle')?.textContent === '{text}'", timeout=timeout)

def _browser_session(lab, tmp_path, name, cells, body):
    "Write `cells` into notebook `name`, open it in headless Chromium, run all cells and call `body(page, console)`."
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium chromium-driver (or set POWERFLOW_SKIP_BROWSER=1)")
    from playwright.sync_api import sync_playwright
    _write_notebook(lab["root"] / name, cells)
    t0, console = time.time(), []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
            _open(page, lab, name)
            _run_all(page)
            t_run = time.time()
            page.wait_for_selector(".pf-explorer .pf-status-text[data-state='done']", timeout=120_000)
            print(f"\nJupyterLab page ready after {t_run - t0:.1f} s; first explorer result {time.time() - t_run:.1f} s after Run All")
            body(page, console)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print("\n".join(console[-30:]))
            print(f"\nfailure screenshot: {tmp_path / 'failure.png'}\nserver log: {lab['log']}")
            raise
        finally:
            browser.close()
    print(f"browser part {time.time() - t0:.1f} s")

def _keep(shot):
    print(f"screenshot: {shot}")
    if os.environ.get("POWERFLOW_ARTIFACTS"):
        os.makedirs(os.environ["POWERFLOW_ARTIFACTS"], exist_ok=True)
        shutil.copy(shot, os.environ["POWERFLOW_ARTIFACTS"])

def _overlap(a, b):
    "True if two bounding boxes overlap (by more than a pixel)."
    return (min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"]) > 1 and
            min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"]) > 1)

def _inside(b, outer):
    "True if bounding box `b` lies within `outer` (to a pixel)."
    return (b is not None and b["x"] >= outer["x"] - 1 and b["y"] >= outer["y"] - 1 and
            b["x"] + b["width"] <= outer["x"] + outer["width"] + 1 and b["y"] + b["height"] <= outer["y"] + outer["height"] + 1)

def _laptop(page):
    "At 1280×800, with the explorer's top at the top of the notebook: the α slider, the summary and the figure are all on screen."
    page.set_viewport_size({"width": 1280, "height": 800})
    page.wait_for_timeout(1000)  # the figure re-lays itself out for the narrower container
    page.locator(".pf-explorer").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    screen = page.locator(".jp-NotebookPanel-notebook").first.bounding_box()  # the notebook's visible area, toolbars excluded
    boxes = {sel: page.locator(f".pf-explorer {sel}").first.bounding_box() for sel in (".pf-alpha", ".pf-summary", ".pf-figure .js-plotly-plot .main-svg")}
    height = page.locator(".pf-explorer").first.bounding_box()["height"]
    print(f"explorer at 1280×800: {height:.0f} px tall; notebook area {screen}; {boxes}")
    assert all(_inside(b, screen) for b in boxes.values()), (screen, boxes)
    return screen

def test_alpha_explorer_in_jupyterlab(jupyter_lab, tmp_path):
    from playwright.sync_api import expect
    assert f"]({SCREENSHOT})" in (REPO / "nbs" / "09_widgets.ipynb").read_text(), "09_widgets no longer shows the screenshot"
    update = os.environ.get("POWERFLOW_UPDATE_SCREENSHOT") == "1"
    shot, laptop = tmp_path / "alpha_explorer.png", REPO / "nbs" / SCREENSHOT if update else tmp_path / "alpha_explorer_1280x800.png"
    laptop.parent.mkdir(parents=True, exist_ok=True)
    def body(page, console):
        page.wait_for_selector(".pf-explorer .js-plotly-plot .barlayer path", timeout=30_000)
        _title_is(page, 'α = 1.00')
        _assert_no_error(page)
        before = _snapshot(page)
        assert _status(page) == ("done", "1.00")
        assert page.locator(".pf-explorer .pf-col[data-alpha='1.00']").count() == 4

        t_move = time.time()
        # 1. a preset button: α = 4
        page.locator(".pf-explorer .pf-preset", has_text="α = 4").click()
        page.wait_for_selector(".pf-explorer .pf-status-text[data-state='done'][data-alpha='4.00']", timeout=30_000)
        _title_is(page, 'α = 4.00')
        after = _snapshot(page)
        assert after[0] != before[0], "the columns did not change when α moved from 1 to 4"
        assert after[2] != before[2], "the figure's bars did not change when α moved from 1 to 4"
        assert page.locator(".pf-explorer .pf-col[data-alpha='4.00']").count() == 4
        assert page.locator(".pf-explorer .pf-col:not([data-alpha='4.00'])").count() == 0, "a stale column is shown"
        _assert_no_error(page)

        # 2. the keyboard on the slider handle: five steps down, pressed quickly
        handle = page.locator(".pf-explorer .pf-alpha .noUi-handle").first
        handle.focus()
        for _ in range(5): page.keyboard.press("ArrowLeft")
        readout = page.locator(".pf-explorer .pf-alpha .widget-readout").first
        expect(readout).not_to_have_text("4.00", timeout=10_000)
        page.wait_for_timeout(300)  # let the last key's change reach the kernel
        shown = readout.text_content().strip()
        page.wait_for_selector(f".pf-explorer .pf-status-text[data-state='done'][data-alpha='{shown}']", timeout=30_000)
        _title_is(page, f'α = {shown}')
        assert float(shown) < 4.0
        assert page.locator(f".pf-explorer .pf-col:not([data-alpha='{shown}'])").count() == 0, "a stale column is shown"
        moved = _snapshot(page)
        assert moved[2] != after[2], "the figure did not change after the keyboard moved α"
        _assert_no_error(page)
        print(f"moving α and checking: {time.time() - t_move:.1f} s")
        page.locator(".pf-explorer").first.scroll_into_view_if_needed()
        page.screenshot(path=str(shot), full_page=True)

        # 3. save, then reload the page: the widget state comes back from the kernel, figure included
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^File$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Save Notebook$")).click()
        page.wait_for_selector(".lm-TabBar-tab.jp-mod-dirty", state="detached", timeout=30_000)
        page.reload()
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
        page.wait_for_selector(".pf-explorer .js-plotly-plot .barlayer path", timeout=60_000)
        _title_is(page, f'α = {shown}')
        assert _snapshot(page) == moved, "after a reload the explorer does not show what it showed before"
        assert not any("Failed to initialize model" in c for c in console), console

        # 4. a laptop screen: the α slider, the summary and the figure at once; the figure fits its container; its legend
        # and axis titles are on screen and the legend covers no title; no label is escaped twice; a tab per method
        screen = _laptop(page)
        box = page.locator(".pf-explorer .pf-figure").first.bounding_box()
        plot = page.locator(".pf-explorer .pf-figure .js-plotly-plot .main-svg").first.bounding_box()
        assert plot["x"] >= box["x"] - 1 and plot["x"] + plot["width"] <= min(box["x"] + box["width"], 1280) + 1, (plot, box)
        legend, *titles = [page.locator(".pf-explorer .js-plotly-plot " + sel).first.bounding_box()
                           for sel in (".legend", ".xtitle", ".x2title", ".ytitle", ".y2title")]
        assert all(_inside(b, screen) for b in [legend, *titles]), (screen, legend, titles)
        assert not any(_overlap(legend, t) for t in titles), (legend, titles)
        labels = page.locator(".pf-explorer .js-plotly-plot text").all_text_contents()
        assert '"' in labels and '&' in labels, labels  # the quote and ampersand tokens, drawn as themselves
        escaped = [t for t in labels + [page.locator(".pf-explorer").first.inner_text()] if "&quot;" in t or "&amp;" in t]
        assert not escaped, escaped
        assert page.locator(".pf-explorer .pf-columns .lm-TabBar-tab").count() == 4
        tabs = page.locator(".pf-explorer .pf-columns").first.bounding_box()
        assert tabs["x"] >= screen["x"] - 1 and tabs["x"] + tabs["width"] <= screen["x"] + screen["width"] + 1, (tabs, screen)
        page.screenshot(path=str(laptop))
    _browser_session(jupyter_lab, tmp_path, "explorer.ipynb", TOY_CELLS, body)
    _keep(shot)
    _keep(laptop)

def _texts(page):
    "The completions shown, per column."
    return page.locator(".pf-explorer .pf-col table").all_inner_texts()

def test_lm_explorer_resample_and_toggle(jupyter_lab, tmp_path):
    "On a real (random) LM: Re-sample, ticking a method, the grader, the shading key, a typed prompt, and the laptop screen."
    from playwright.sync_api import expect
    shot, laptop = tmp_path / "lm_explorer.png", tmp_path / "lm_explorer_1280x800.png"
    def body(page, console):
        done = lambda seed: f".pf-explorer .pf-status-text[data-state='done']:text-matches('seed {seed} ')"
        page.wait_for_selector(done(0), timeout=60_000)
        assert page.locator(".pf-explorer .pf-col").count() == 2
        first = _texts(page)
        page.locator(".pf-explorer .pf-resample button, .pf-explorer button.pf-resample").first.click()
        page.wait_for_selector(done(1), timeout=60_000)
        assert page.locator(".pf-explorer .pf-seed input").first.input_value() == "1"
        assert _texts(page)[0] != first[0], "Re-sample showed the same base samples"
        page.locator(".pf-explorer .pf-method-smc input").first.check()
        page.wait_for_selector(".pf-explorer .pf-col[data-method='smc']:not(.pf-pending)", state="attached", timeout=60_000)  # in a hidden tab
        page.wait_for_selector(done(1), timeout=60_000)
        notes = {m: page.locator(f".pf-explorer .pf-col[data-method='{m}']").first.get_attribute("data-note") for m in ("base", "sir", "smc")}
        assert notes == {"base": "cached", "sir": "cached", "smc": ""}, notes
        _assert_no_error(page)
        page.locator(".pf-explorer").first.scroll_into_view_if_needed()
        page.screenshot(path=str(shot), full_page=True)

        # the grader is named; lenient re-grades the cached samples; the shading key stands above the samples
        base = page.locator(".pf-explorer .pf-col[data-method='base']").first
        assert "accuracy (strict)" in page.locator(".pf-explorer .pf-summary").first.inner_text() and "strict" in base.locator("th").first.inner_text()
        expect(base.locator(".pf-shade-key")).to_be_visible()
        page.locator(".pf-explorer .pf-grader button", has_text="lenient").click()
        page.wait_for_selector(".pf-explorer .pf-summary th:has-text('accuracy (lenient)')", timeout=30_000)
        page.wait_for_selector(done(1), timeout=60_000)
        assert "lenient" in base.locator("th").first.inner_text()
        notes = {m: page.locator(f".pf-explorer .pf-col[data-method='{m}']").first.get_attribute("data-note") for m in ("base", "sir", "smc")}
        assert set(notes.values()) == {"cached"}, notes

        # a typed prompt: the dropdown shows it
        page.locator(".pf-explorer .pf-text input").first.fill("Once upon a time")
        page.locator(".pf-explorer .pf-text input").first.press("Enter")
        page.wait_for_selector(".pf-explorer .pf-status-text[data-state='done']:has-text('Once upon a time')", timeout=60_000)
        picked = page.locator(".pf-explorer .pf-prompt select").first.evaluate("s => s.options[s.selectedIndex].text")
        assert picked.replace("\xa0", " ") == "✎ typed: Once upon a time", picked  # the dropdown draws spaces as no-break spaces
        _assert_no_error(page)
        _laptop(page)
        page.screenshot(path=str(laptop))
    _browser_session(jupyter_lab, tmp_path, "lm_explorer.ipynb", LM_CELLS, body)
    _keep(shot)
    _keep(laptop)
