"""Test-session settings and shared helpers.

The session runs with ``WORKBENCH_QUICK=1`` (unless set otherwise in the environment), so the
tutorials and the demo pick their reduced sizes (:mod:`workbench.sizes`); notebook kernels
started by the tests inherit it. Tests marked ``requires_fashion_mnist`` skip, with the install
command, when Debian's Fashion-MNIST files are absent.

``estimates`` (session scope) runs :func:`workbench.estimate` once per distinct call and caches
the result, so that the closed-form and behaviour test modules share the expensive NUTS runs.
The UserWarnings an estimate emits are recorded (so tests can check them) and then re-emitted
unchanged: nothing is hidden from pytest's warning summary.

``one_torch_thread`` (module scope; ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``)
runs a module's small Torch models on one thread, restored after; ``lock_holder`` starts another
process that holds a run folder's lock.
"""

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

import models
import workbench
import workbench.bayes
from workbench.data import fashion_mnist_available
from workbench.data.datasets import FASHION_MNIST_ENV, FASHION_MNIST_INSTALL
from workbench.sizes import QUICK_ENV

os.environ.setdefault(QUICK_ENV, "1")

SEED = 20261122
SAMPLING = {"draws": 1000, "tune": 1000, "chains": 4}

_CACHE = {}
_EMITTED = {}

SKIP_FASHION_MNIST = pytest.mark.skip(
    reason=f"Debian's Fashion-MNIST is not installed: {FASHION_MNIST_INSTALL} "
    f"(or point ${FASHION_MNIST_ENV} at the IDX files)"
)


def pytest_collection_modifyitems(config, items):
    """Skip the tests marked ``requires_fashion_mnist`` when the data are absent."""
    if fashion_mnist_available():
        return
    for item in items:
        if item.get_closest_marker("requires_fashion_mnist"):
            item.add_marker(SKIP_FASHION_MNIST)


def run_estimate(
    name, *, data=None, methods=workbench.bayes.METHODS, seed=SEED, sampling=None, **settings
):
    """``workbench.estimate(models.build(name, data, **settings), ...)``, cached per call."""
    sampling = {**SAMPLING, **(sampling or {})}
    key = (
        name,
        None if data is None else np.asarray(data, dtype=float).tobytes(),
        tuple(methods),
        seed,
        tuple(sorted(sampling.items())),
        tuple(sorted(settings.items())),
    )
    if key not in _CACHE:
        model = models.build(name, data=data, **settings)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = workbench.estimate(model, methods=methods, seed=seed, **sampling)
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        _CACHE[key] = result
        _EMITTED[id(result)] = [
            str(w.message) for w in caught if issubclass(w.category, UserWarning)
        ]
    return _CACHE[key]


def emitted_warnings(result):
    """Messages of the UserWarnings emitted while ``result`` was computed by ``run_estimate``."""
    return _EMITTED[id(result)]


@pytest.fixture(scope="session")
def estimates():
    """The cached ``run_estimate`` helper."""
    return run_estimate


def cm_ml_value(result, name):
    """The reported cm_ml of ``name``: None when not reported (whole method or this name)."""
    means = result.point.get("cm_ml")
    if means is None:
        return None
    value = means.get(name)
    if value is None or np.all(np.isnan(np.asarray(value, dtype=float))):
        return None
    return np.asarray(value, dtype=float)


def flat_mcse(result, name):
    """MCSE of the mean of ``name`` under the flat-prior draws (``result.flat_posterior``)."""
    import arviz_stats as azs

    mcse = azs.mcse(result.flat_posterior, var_names=[name], method="mean")
    return np.asarray(mcse[name].values, dtype=float)


def assert_within_mcse(estimate, exact, mcse, *, k=4.0, k_all=5.0, max_outside=0):
    """|estimate - exact| <= k * mcse componentwise; for vectors, up to ``max_outside``
    components may exceed k (multiple testing) but none may exceed ``k_all``."""
    estimate, exact, mcse = (np.asarray(v, dtype=float) for v in (estimate, exact, mcse))
    assert estimate.shape == exact.shape == mcse.shape, (estimate.shape, exact.shape, mcse.shape)
    assert np.all(np.isfinite(mcse)) and np.all(mcse > 0), mcse
    z = np.abs(estimate - exact) / mcse
    outside = np.flatnonzero(z > k)
    detail = f"z-scores {np.round(z, 2)}; estimate {estimate}; exact {exact}"
    assert outside.size <= max_outside, f"{outside.size} component(s) beyond {k} MCSE: {detail}"
    assert np.all(z <= k_all), f"component(s) beyond {k_all} MCSE: {detail}"


# A headless browser for the report: Debian's chromium and chromium-driver, driven by Selenium.
CHROMIUM_INSTALL = "apt-get install chromium chromium-driver"
ARTEFACTS_ENV = "WORKBENCH_ARTEFACTS"


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Selenium), logging the console; skips with the install command when
    chromium or chromedriver is absent."""
    import shutil

    binary = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.skip(f"no headless Chromium: {CHROMIUM_INSTALL}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", "--host-resolver-rules=MAP * ~NOTFOUND"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


PAGE_FACTS = """
const style = (e) => getComputedStyle(e);
return {
  images: [...document.images].map((i) => [i.alt, i.complete, i.naturalWidth]),
  contents: [...document.querySelectorAll("#contents a")].map((a) => a.getAttribute("href")),
  sections: [...document.querySelectorAll("main section")].map(
    (s) => [s.id, s.querySelector(":scope > .look") !== null]),
  subsections: [...document.querySelectorAll("main section h3")].map((h) => h.id),
  ids: [...document.querySelectorAll("[id]")].map((e) => e.id),
  numbers: [...document.querySelectorAll("td.num")].map(
    (td) => [style(td).textAlign, style(td).fontVariantNumeric]),
  tables: document.querySelectorAll("main table").length,
  pre: document.querySelectorAll("main pre").length,
};
"""
PRINT_FACTS = """
const style = (e) => getComputedStyle(e);
return {
  contents: style(document.getElementById("contents")).display,
  sections: [...document.querySelectorAll("main section")].map((s) => style(s).breakBefore),
  figures: [...document.querySelectorAll("figure")].map((f) => style(f).breakInside),
};
"""


def page_problems(facts):
    """What keeps a report page from reading well, in words (empty: nothing)."""
    problems = [f"console: {e['message']}" for e in facts["errors"]]
    problems += [f"image not decoded: {alt!r}" for alt, done, w in facts["images"] if not w > 0]
    ids = facts["ids"]
    problems += [f"anchor {i!r} is not unique" for i in sorted(set(ids)) if ids.count(i) > 1]
    hrefs = facts["contents"]
    problems += [f"contents link {h!r} has no target" for h in hrefs if h[1:] not in ids]
    for anchor, look in facts["sections"]:
        if f"#{anchor}" not in hrefs:
            problems.append(f"section {anchor!r} is not in the contents")
        if not look:
            problems.append(f"section {anchor!r} has no 'what to look at' line")
    for h in facts["subsections"]:
        if f"#{h}" not in hrefs:
            problems.append(f"subsection {h!r} is not in the contents")
    for href, (hash_, top, height) in facts["landed"].items():
        if hash_ != href or top is None or not -2 <= top < height:
            problems.append(f"clicking {href!r} landed at {hash_!r}, target top {top}")
    problems += [
        f"number cell aligned {align!r}, digits {digits!r}"
        for align, digits in facts["numbers"]
        if align != "right" or "tabular-nums" not in digits
    ]
    layout = facts["print"]
    if layout["contents"] != "none":
        problems.append("the contents are printed")
    problems += [f"printed section {i} starts mid-page" for i, b in
                 enumerate(layout["sections"][1:], 1) if b != "page"]  # fmt: skip
    problems += [f"printed figure {i} may split" for i, b in enumerate(layout["figures"])
                 if b != "avoid"]  # fmt: skip
    return problems


@pytest.fixture
def open_report(browser, tmp_path):
    """``open_report(path, name)`` loads a report in the browser and returns what a reader
    meets: the console's SEVERE entries, each image's decoding, the contents' links and where
    a click on each lands, the sections, the numbers' alignment, and the print layout. Saves
    ``name.png`` (a screenshot) and ``name.pdf`` (the printed page) under ``tmp_path``, copied
    to ``$WORKBENCH_ARTEFACTS`` when it is set."""
    import base64

    from selenium.webdriver.common.by import By

    def open_(path, name):
        browser.get_log("browser")  # drop what earlier pages logged
        browser.get(Path(path).resolve().as_uri())
        facts = browser.execute_script(PAGE_FACTS)
        landed = {}
        for href in facts["contents"]:
            browser.find_element(By.CSS_SELECTOR, f'#contents a[href="{href}"]').click()
            landed[href] = browser.execute_script(
                "const e = document.getElementById(arguments[0]);"
                "const r = e && e.getBoundingClientRect();"
                "return [location.hash, r ? r.top : null, innerHeight];",
                href[1:],
            )
        facts["landed"] = landed
        browser.execute_script("window.scrollTo(0, 0)")
        shot = tmp_path / f"{name}.png"
        browser.save_screenshot(str(shot))
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        facts["print"] = browser.execute_script(PRINT_FACTS)
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        pdf = tmp_path / f"{name}.pdf"
        pdf.write_bytes(base64.b64decode(browser.print_page()))
        facts["errors"] = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        facts["screenshot"], facts["pdf"] = shot, pdf
        facts["problems"] = page_problems(facts)
        for artefact in (shot, pdf):
            save_artefact(artefact)
        return facts

    return open_


def save_artefact(path):
    """Copy a test artefact (a screenshot) to ``$WORKBENCH_ARTEFACTS`` when it is set."""
    import shutil

    folder = os.environ.get(ARTEFACTS_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return shutil.copy(path, Path(folder) / Path(path).name)
    return None


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small models: one torch thread (several spin badly on a busy machine); restored after."""
    from workbench.nn.runtime import torch_threads

    with torch_threads(1):
        yield


@pytest.fixture
def lock_holder():
    """``lock_holder(folder, command)``: a process that holds ``folder``'s run lock (as a run of
    ``command``) until the test ends; returned once it holds it."""
    import subprocess
    import sys

    holders = []

    def hold(folder, command):
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys, time\nfrom workbench.runfolder import "
             "open_run_folder\nwith open_run_folder(sys.argv[1], command=sys.argv[2]):\n"
             "    print('held', flush=True)\n    time.sleep(60)\n", str(folder), command],
            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()},
        )  # fmt: skip
        holders.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield hold
    for proc in holders:
        proc.kill()
        proc.wait()
