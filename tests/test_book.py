"""The rendered book (and the slides) open offline in a real browser and look right.

Builds the book with scripts/build_book.py (incremental: a fresh build is reused), serves _build/ on 127.0.0.1,
and opens every page in headless Chromium with every other host unresolvable. Checks per page:

- every local href/src resolves to a file of the build (and #fragments to an id on the target page); external
  URLs appear only as plain links, never as resources (scripts, styles, images, frames);
- the browser requests nothing but 127.0.0.1 (MathJax, widgets and theme all come from the build);
- no uncaught JavaScript error, no failed request, every <img> decoded;
- equations rendered: MathJax produced output where the page has math, no MathJax error, no raw ``$$``,
  ``\\(``, ``\\[`` or ``$…\\cmd…$`` left in the text outside code;
- no error outputs (no ``ename``/Traceback blocks); saved widget state rendered as widgets.

Screenshots land in _build/book/_screenshots/ (and _build/slides/_screenshots/) for review. Chromium is Debian's
(installed with apt-get when missing and we are root); the JavaScript comes from ``npm ci``. The browser is driven
over the DevTools protocol on a pipe (``--remote-debugging-pipe``), so no Python package beyond the standard library
is needed.
"""
from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import nbformat
import pytest

fcntl = pytest.importorskip("fcntl", reason="drives Chromium over a pipe: POSIX only")

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
BOOK = BUILD / "book"
SLIDES = BUILD / "slides"
PAGE_TIMEOUT = 30.0
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


# ------------------------------------------------------------------------------------------ set-up


def find_or_install_chromium() -> str:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("Chromium is not installed and cannot be installed here (needs root and apt-get): "
                    "apt-get install chromium")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]):
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
        if out.returncode != 0:
            pytest.skip(f"Chromium could not be installed ({' '.join(cmd)}): {out.stderr.strip()[-500:]}")
    path = shutil.which("chromium")
    if not path:
        pytest.skip("apt-get installed chromium, but no chromium executable was found")
    return path


def ensure_node_modules() -> None:
    if (ROOT / "node_modules" / "mathjax" / "es5").exists() and (ROOT / "node_modules" / "reveal.js").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is missing: the book serves MathJax, reveal.js and the widget manager from `npm ci`")
    out = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=ROOT, capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, f"npm ci failed:\n{out.stderr[-2000:]}"


def run_script(name: str) -> None:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / name)], cwd=ROOT, capture_output=True, text=True,
                         env=env, timeout=900)
    assert out.returncode == 0, f"{name} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"


@pytest.fixture(scope="module")
def chromium() -> str:
    return find_or_install_chromium()


@pytest.fixture(scope="module")
def book() -> Path:
    ensure_node_modules()
    run_script("build_book.py")
    assert (BOOK / "index.html").exists() and (BOOK / "README.html").exists()
    return BOOK


@pytest.fixture(scope="module")
def server():
    """Serve _build/ on 127.0.0.1 (an ephemeral port) for the whole module."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(BUILD))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(chromium):
    with Browser(chromium) as b:
        yield b


# ------------------------------------------------------------------------------------------ browser


class Browser:
    """Headless Chromium driven through the DevTools protocol over a pipe (fd 3: commands in, fd 4: replies out)."""

    def __init__(self, executable: str):
        self.executable = executable

    def __enter__(self):
        self.profile = tempfile.mkdtemp(prefix="book-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        for name in ("to_browser_r", "from_browser_w"):     # out of the way of fds 3 and 4
            fd = locals()[name]
            high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
            os.close(fd)
            if name == "to_browser_r":
                to_browser_r = high
            else:
                from_browser_w = high
        # bash (dash only knows fds 0–9) moves the pipe ends to fds 3 and 4, where --remote-debugging-pipe expects them.
        redirect = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c", redirect, self.executable, *CHROMIUM_FLAGS, "--remote-debugging-pipe",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(to_browser_r, from_browser_w))
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        self.call("Target.setDiscoverTargets", {"discover": False})
        return self

    def __exit__(self, *exc):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if time.time() > deadline:
                raise TimeoutError("no reply from Chromium")
            ready, _, _ = select.select([self._from_browser], [], [], max(0.0, deadline - time.time()))
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = PAGE_TIMEOUT):
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str, session: str, timeout: float = PAGE_TIMEOUT) -> dict:
        deadline = time.time() + timeout
        seen = 0
        while True:
            for ev in self.events[seen:]:
                if ev.get("method") == method and ev.get("sessionId") == session:
                    return ev
            seen = len(self.events)
            self.events.append(self._read_message(deadline))

    def evaluate(self, session: str, expression: str, timeout: float = PAGE_TIMEOUT):
        res = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True,
                                             "timeout": timeout * 1000}, session, timeout=timeout + 5)
        if "exceptionDetails" in res:
            raise RuntimeError(f"page script failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def screenshot(self, session: str, path: Path, clip: dict | None = None) -> None:
        params = {"format": "png"}
        if clip:
            params.update(clip=clip)
        data = self.call("Page.captureScreenshot", params, session)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def visit(self, url: str, ready_js: str, check_js: str, screenshot: Path, width: int = 1280,
              height: int = 1000, extra_shots: dict[str, str] | None = None, probe_js: str | None = None) -> dict:
        """Open `url` in a new tab, wait for `ready_js`, return `check_js`'s value plus what the tab logged
        (and, under "probe", the value of `probe_js`, evaluated last)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        start = len(self.events)
        try:
            for domain in ("Page", "Runtime", "Network", "Log"):
                self.call(f"{domain}.enable", {}, session)
            self.call("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
            self.call("Page.navigate", {"url": url}, session)
            self.wait_event("Page.loadEventFired", session)
            self.evaluate(session, ready_js)
            report = self.evaluate(session, check_js)
            self.screenshot(session, screenshot)
            for name, js in (extra_shots or {}).items():   # js: null (no shot), {clip: …} or {viewport: true}
                view = self.evaluate(session, js)
                if view:
                    time.sleep(0.3)
                    clip = view.get("clip")
                    self.screenshot(session, screenshot.with_name(f"{screenshot.stem}-{name}.png"),
                                    clip and clip | {"scale": 1})
            if probe_js:
                report["probe"] = self.evaluate(session, probe_js, timeout=120)
            time.sleep(0.1)
            self.call("Runtime.evaluate", {"expression": "1"}, session)   # flush pending events
        finally:
            self.call("Target.closeTarget", {"targetId": target})
        events = [e for e in self.events[start:] if e.get("sessionId") == session]
        self.events = self.events[:start]
        report["requests"] = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
        report["failed"] = [e["params"] for e in events if e["method"] == "Network.loadingFailed"]
        report["bad_status"] = [(e["params"]["response"]["url"], e["params"]["response"]["status"]) for e in events
                                if e["method"] == "Network.responseReceived" and e["params"]["response"]["status"] >= 400]
        report["exceptions"] = [e["params"]["exceptionDetails"] for e in events if e["method"] == "Runtime.exceptionThrown"]
        report["console_errors"] = [f'{e["params"]["entry"]["text"]} {e["params"]["entry"].get("url", "")}'
                                    for e in events if e["method"] == "Log.entryAdded"
                                    and e["params"]["entry"]["level"] == "error"]
        report["console_errors"] += [" ".join(str(a.get("value", a.get("description", ""))) for a in e["params"]["args"])
                                     for e in events if e["method"] == "Runtime.consoleAPICalled"
                                     and e["params"]["type"] == "error"]
        return report


# ------------------------------------------------------------------------------------------ page scripts

READY_BOOK = r"""(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length;
  for (let i = 0; i < 150 && views && document.querySelectorAll('.jupyter-widgets').length < views; i++) await sleep(100);
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await sleep(200);
  return true;
})()"""

READY_SLIDES = r"""(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  for (let i = 0; i < 150 && document.querySelector('.reveal') && !document.querySelector('.reveal.ready'); i++) await sleep(100);
  for (let i = 0; i < 150 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++) await sleep(100);
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await sleep(300);
  return true;
})()"""

# What the page shows, as text outside code, plus counts the checks need.
CHECK = r"""(() => {
  const skip = new Set(['PRE', 'CODE', 'SCRIPT', 'STYLE', 'TEXTAREA', 'MJX-CONTAINER', 'NOSCRIPT']);
  const parts = [];
  const walk = node => {
    for (const child of node.childNodes) {
      if (child.nodeType === 3) parts.push(child.textContent);
      else if (child.nodeType === 1 && !skip.has(child.tagName) && !child.classList.contains('highlight')) walk(child);
    }
  };
  walk(document.body);
  const imgs = [...document.images];
  return {
    title: document.title,
    text: parts.join(''),
    all_text: document.body.textContent,
    mathjax: document.querySelectorAll('mjx-container').length,
    math_errors: document.querySelectorAll('mjx-merror').length,
    math_nodes: document.querySelectorAll('.math, span.math, div.math').length,
    widget_views: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
    widgets: document.querySelectorAll('.jupyter-widgets').length,
    error_outputs: document.querySelectorAll('.output.traceback, .output.error, .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"] .ansi-red-fg').length,
    broken_images: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.currentSrc || i.src),
    images: imgs.length,
    reveal_ready: !!document.querySelector('.reveal.ready'),
    slides: document.querySelectorAll('.reveal .slides section').length,
    // code cells and outputs of the book that scroll sideways (a projector would hide their ends)
    code_blocks: document.querySelectorAll('div.cell pre').length,
    sideways: [...document.querySelectorAll('div.cell pre')].filter(p => p.scrollWidth > p.clientWidth + 1)
                .map(p => p.textContent.split('\n').reduce((a, b) => a.length > b.length ? a : b).slice(0, 80)),
    column_px: Math.round((document.querySelector('.bd-article') || document.body).getBoundingClientRect().width),
  };
})()"""

# Clips of the first widget and the first display equation, for review: each is scrolled to the top of the
# viewport first (a clip far below it comes out shifted when Chromium re-lays the page out to capture it).
SHOT_TARGETS = {
    "widget": "(() => { const w = document.querySelector('.jupyter-widgets');"
              " return w && (w.closest('.cell') || w.closest('.cell_output') || w); })()",
    "equation": "document.querySelector('div.math mjx-container, mjx-container[display=\"true\"]')",
}
SHOT_CLIP = """(() => {
  const el = %s;
  if (!el) return null;
  el.scrollIntoView({block: 'start'});
  window.scrollBy(0, -16);
  const r = el.getBoundingClientRect(), pad = 8;
  return {clip: {x: Math.max(0, r.left + scrollX - pad), y: Math.max(0, r.top + scrollY - pad),
                 width: Math.min(innerWidth, r.width + 2 * pad), height: Math.min(innerHeight - 8, r.height + 2 * pad)}};
})()"""
BOOK_SHOTS = {name: SHOT_CLIP % finder for name, finder in SHOT_TARGETS.items()}

# Slides: go to the first slide that shows a widget / a figure / a display equation (reveal.js reads the hash).
SLIDE_VIEW = """(async () => {
  const el = document.querySelector(%r);
  const sec = el && el.closest('.slides > section > section, .slides > section');
  if (!sec) return null;
  const top = sec.parentElement.classList.contains('slides') ? sec : sec.parentElement;
  const h = [...top.parentElement.children].indexOf(top);
  const v = top === sec ? 0 : [...top.children].indexOf(sec);
  location.hash = '#/' + h + '/' + v;
  await new Promise(r => setTimeout(r, 600));
  return {viewport: true};
})()"""
SLIDE_SHOTS = {"widget": SLIDE_VIEW % ".jupyter-widgets", "figure": SLIDE_VIEW % ".jp-OutputArea-output img",
               "equation": SLIDE_VIEW % "mjx-container[display=\"true\"]"}

# Slides: visit every slide (reveal.js exposes `Reveal`, see book/reveal_offline) and measure its content height in
# the deck's own pixels (scrollHeight ignores reveal's scaling), and which exercise solutions a viewer sees: text
# inside a closed <details> has no box, so checkVisibility() is false for it.
SLIDE_HEIGHT = 800      # the design height (scripts/build_slides.py: reveal_height)
SLIDE_WALK = r"""(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const R = window.Reveal;
  if (!R) return {error: 'reveal.js is not exposed as window.Reveal'};
  const norm = t => t.replace(/\s+/g, ' ').trim();
  const details = [...document.querySelectorAll('.reveal .slides details')];
  const bodies = details.map(d => norm([...d.childNodes].filter(n => n.nodeName !== 'SUMMARY').map(n => n.textContent).join('')));
  const tall = [], shown = [];
  for (const s of R.getSlides()) {
    const i = R.getIndices(s);
    R.slide(i.h, i.v);
    await sleep(20);
    const title = norm((s.querySelector('h1, h2, h3') || {textContent: ''}).textContent).slice(0, 60);
    if (s.scrollHeight > %d) tall.push(`slide ${i.h}/${i.v || 0} "${title}": ${s.scrollHeight} px`);
    const parts = [], walker = document.createTreeWalker(s, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const el = walker.currentNode.parentElement;
      if (el && el.checkVisibility({checkVisibilityCSS: true})) parts.push(walker.currentNode.textContent);
    }
    const text = norm(parts.join(''));
    for (const b of bodies) if (b.length >= 20 && text.includes(b.slice(0, 60))) shown.push(`slide ${i.h}/${i.v || 0}: "${b.slice(0, 60)}"`);
  }
  return {slides: R.getSlides().length, tall, shown, solutions: bodies.length,
          empty: bodies.filter(b => b.length < 20).length, open: details.filter(d => d.open).length};
})()""" % SLIDE_HEIGHT

TQDM_BAR = re.compile(r"\d+%\|[█▏▎▍▌▋▊▉ #]*\|\s*\d+/\d+")
RAW_TEX = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\$[^$\n]{0,200}?\\[A-Za-z]+[^$\n]{0,200}?\$")


# ------------------------------------------------------------------------------------------ static checks


class Refs(HTMLParser):
    """Collect (kind, tag, url) and the ids of one HTML file; kind is 'link' (navigation) or 'resource'."""

    RESOURCE_RELS = {"stylesheet", "icon", "shortcut", "preload", "modulepreload", "prefetch", "manifest",
                     "apple-touch-icon", "mask-icon"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.update({a[key], unquote(a[key])})     # nbconvert percent-encodes heading ids
        if tag == "a" and a.get("href"):
            self.refs.append(("link", tag, a["href"]))
        elif tag == "link" and a.get("href"):
            rels = set((a.get("rel") or "").lower().split())
            self.refs.append(("resource" if rels & self.RESOURCE_RELS else "link", tag, a["href"]))
        elif tag in ("img", "script", "iframe", "source", "video", "audio", "embed", "track", "input") and a.get("src"):
            self.refs.append(("resource", tag, a["src"]))
        elif tag == "object" and a.get("data"):
            self.refs.append(("resource", tag, a["data"]))


@functools.lru_cache(maxsize=None)
def parse(path: Path) -> Refs:
    p = Refs()
    p.feed(path.read_text(encoding="utf-8", errors="replace"))
    return p


def static_problems(page: Path, site: Path) -> list[str]:
    problems = []
    for kind, tag, url in parse(page).refs:
        parts = urlsplit(url)
        if parts.scheme in ("mailto", "data", "javascript", "tel", "blob"):
            continue
        if parts.scheme or url.startswith("//"):
            if kind == "resource":
                problems.append(f"external resource <{tag}> {url}")
            continue
        if not parts.path:      # same-page fragment
            if parts.fragment and unquote(parts.fragment) not in parse(page).ids:
                problems.append(f"missing anchor #{parts.fragment}")
            continue
        target = (page.parent / unquote(parts.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file() or site.resolve() not in target.parents:
            problems.append(f"broken {kind} <{tag}> {url}")
            continue
        if parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in parse(target).ids:
            problems.append(f"missing anchor {url}")
    return problems


def page_problems(name: str, r: dict, expect_math: bool) -> list[str]:
    problems = []
    outside = [u for u in r["requests"] if urlsplit(u).scheme not in ("data", "blob", "about")
               and urlsplit(u).hostname != "127.0.0.1"]
    problems += [f"requested from the network: {u}" for u in outside]
    problems += [f"failed request: {f.get('errorText')} ({f.get('type')})" for f in r["failed"]
                 if not f.get("canceled")]
    problems += [f"HTTP {s}: {u}" for u, s in r["bad_status"] if not u.endswith("/favicon.ico")]
    problems += [f"uncaught JavaScript error: {e.get('exception', {}).get('description', e.get('text'))[:300]}"
                 for e in r["exceptions"]]
    problems += [f"console error: {t[:300]}" for t in r["console_errors"] if "favicon.ico" not in t]
    problems += [f"image not decoded: {u}" for u in r["broken_images"]]
    if expect_math and r["mathjax"] == 0:
        problems.append("page has equations but MathJax rendered none")
    if r["math_errors"]:
        problems.append(f"{r['math_errors']} MathJax errors (red TeX)")
    raw = RAW_TEX.findall(r["text"])
    if raw:
        problems.append(f"raw TeX left in the rendered text: {raw[:5]}")
    if r["error_outputs"] or "Traceback (most recent call last)" in r["all_text"]:
        problems.append("an error output (traceback) is shown")
    if r["widget_views"] and r["widgets"] < r["widget_views"]:
        problems.append(f"{r['widget_views']} saved widget views, {r['widgets']} rendered")
    if TQDM_BAR.search(r["all_text"]):
        problems.append("a tqdm progress bar is shown (set TQDM_DISABLE=1 when executing)")
    if "Error displaying widget" in r["all_text"]:
        problems.append("a widget failed to render ('Error displaying widget')")
    return [f"{name}: {p}" for p in problems]


def source_markdown(stem: str) -> str:
    """The markdown a deck was made from (its notebook's markdown cells, or notebooks/<stem>.md)."""
    path = ROOT / "notebooks" / f"{stem}.ipynb"
    if path.exists():
        return "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    return (ROOT / "notebooks" / f"{stem}.md").read_text(encoding="utf-8")


def book_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if not any(part.startswith("_") for part in p.relative_to(site).parts))


# ------------------------------------------------------------------------------------------ tests


def test_notebooks_store_no_error_outputs():
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        errors = [o.get("ename") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.output_type == "error"]
        assert not errors, f"{path.name} stores error outputs: {errors}"


@pytest.mark.slow   # builds the whole book (Sphinx) and renders every page in Chromium: the longest test of the suite
def test_book_pages_render_offline(book, server, browser):
    t0 = time.time()
    pages = book_pages(book)
    notebooks = [p for p in pages if re.match(r"\d\d_", p.name)]
    assert {p.stem for p in notebooks} == {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}, \
        "every notebook of the series is a page of the book"
    assert (book / "notebooks" / "glossary.html").exists()
    shots = book / "_screenshots"
    shutil.rmtree(shots, ignore_errors=True)
    problems = []
    n_code, columns = 0, []
    for page in pages:
        rel = page.relative_to(book).as_posix()
        problems += [f"{rel}: {p}" for p in static_problems(page, book)]
        html = page.read_text(encoding="utf-8")
        if '"ename"' in html or "Traceback (most recent call last)" in html:
            problems.append(f"{rel}: error output in the HTML")
        if rel == "index.html":        # a redirect to the README page, which is checked itself
            assert 'http-equiv="refresh"' in html and "url=README.html" in html
            continue
        expect_math = 'class="math' in html
        r = browser.visit(f"{server}/book/{rel}", READY_BOOK, CHECK, shots / f"{rel.replace('/', '_')[:-5]}.png",
                          extra_shots=BOOK_SHOTS)
        problems += page_problems(rel, r, expect_math)
        problems += [f"{rel}: a code cell or output scrolls sideways at 1280 px: {line!r}" for line in r["sideways"]]
        n_code += r["code_blocks"]
        columns.append(r["column_px"])
        if re.match(r"\d\d_", page.name):
            assert r["images"] >= 2, f"{rel}: expected figures"
    assert not problems, "\n".join(problems)
    assert len(list(shots.glob("*.png"))) >= len(pages) - 1
    # the notebooks that store widget state show live widgets, and the book still loads nothing from outside
    widget_pages = [p for p in notebooks if "widgets" in nbformat.read(ROOT / "notebooks" / f"{p.stem}.ipynb", 4).metadata]
    for p in widget_pages:
        assert (shots / f"notebooks_{p.stem}-widget.png").exists(), f"{p.name}: no widget rendered"
    print(f"{len(pages)} pages checked in {time.time() - t0:.0f} s ({n_code} code blocks, none scrolling sideways; "
          f"content column {min(columns)}–{max(columns)} px at 1280 px); screenshots in {shots.relative_to(ROOT)}")


@pytest.mark.slow   # builds every deck (nbconvert + reveal.js) and renders it in Chromium
def test_slides_render_offline(server, browser):
    ensure_node_modules()
    run_script("build_slides.py")
    decks = sorted(SLIDES.glob("*.slides.html"))
    names = {d.name.split(".")[0] for d in decks}
    assert names >= {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")} | {"glossary"}
    shots = SLIDES / "_screenshots"
    shutil.rmtree(shots, ignore_errors=True)
    problems = []
    n_slides = n_solutions = 0
    for page in [SLIDES / "index.html", *decks]:
        problems += [f"{page.name}: {p}" for p in static_problems(page, SLIDES)]
        expect_math = page.name != "index.html" and "$" in source_markdown(page.name.split(".")[0])
        deck = page.name != "index.html"
        r = browser.visit(f"{server}/slides/{page.name}", READY_SLIDES, CHECK, shots / f"{page.name[:-5]}.png",
                          width=1280, height=800, extra_shots=SLIDE_SHOTS, probe_js=SLIDE_WALK if deck else None)
        problems += page_problems(page.name, r, expect_math)
        if deck:
            assert r["reveal_ready"] and r["slides"] >= 2, f"{page.name}: reveal.js did not start"
            problems += [f"{page.name}: {p}" for p in slide_problems(page.name.split(".")[0], r["probe"])]
            n_slides += r["probe"]["slides"]
            n_solutions += r["probe"]["solutions"]
    assert not problems, "\n".join(problems)
    print(f"{n_slides} slides, {n_solutions} solutions checked: none visible, none taller than {SLIDE_HEIGHT} px")


def slide_problems(stem: str, walk: dict) -> list[str]:
    """A deck shows no solution and keeps every slide within the design height; every solution of the notebook
    is in the deck, collapsed, with its body inside the <details> element."""
    if "error" in walk:
        return [walk["error"]]
    problems = [f"taller than {SLIDE_HEIGHT} px: {t}" for t in walk["tall"]]
    problems += [f"a solution is visible on {s}" for s in walk["shown"]]
    expected = len(re.findall(r"<details>", source_markdown(stem)))
    if walk["solutions"] != expected:
        problems.append(f"{walk['solutions']} collapsible solutions in the deck, {expected} in the notebook")
    if walk["empty"]:
        problems.append(f"{walk['empty']} solutions render with an empty body (their text is outside <details>)")
    if walk["open"]:
        problems.append(f"{walk['open']} solutions are open when the deck loads")
    return problems
