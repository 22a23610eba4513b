"""The report in a real browser (headless Chromium driven by Playwright): it renders, every
image decodes, the filters and the sort of the list of all CEs work, and without scripts the
page is the same list, static."""

import io

import numpy as np
from PIL import Image

from leapfactual.report import build_report, write_report

from .browser import FLAGS, chromium
from .test_html import fake_explanation

VISIBLE = "[...document.querySelectorAll('#browse-list .ce')].filter(e => !e.hidden)"


def report_page(tmp_path):
    exp = fake_explanation(n=12)
    exp.probs_cf[::3] = exp.probs[::3]  # every third CE stays in its source class: not valid
    exp.x_cf[::2] = exp.x[::2]  # half the CEs do not move: distance 0
    page = write_report(build_report(exp, list("abcd"), "Digits", samples=4), tmp_path / "r.html")
    return exp, page


def test_the_page_renders_and_its_filters_change_what_is_visible(tmp_path) -> None:
    from playwright import sync_api

    executable = chromium()
    exp, page_path = report_page(tmp_path)
    with sync_api.sync_playwright() as p:
        args = [flag for flag in FLAGS if flag != "--headless"]
        browser = p.chromium.launch(executable_path=executable, args=args)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.set_default_timeout(10000)
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_path.as_uri())
            page.wait_for_function(
                "[...document.images].every(i => i.complete && i.naturalWidth > 0)"
            )
            assert page.evaluate("document.images.length") > 12
            assert all(url.startswith(("file:", "data:")) for url in requests)
            for section in ("summary", "matrix", "failures", "curves", "samples", "browse"):
                assert page.locator(f"#{section}").is_visible()
            assert page.locator("#curves svg").count() == 2  # p(target), L1 (8x8: no SSIM)
            assert page.locator("#browse-controls").is_visible()
            assert page.evaluate(f"{VISIBLE}.length") == 12

            page.select_option("#browse-controls select[name=valid]", "0")
            invalid = [i for i in range(12) if not bool(exp.valid[i])]
            assert page.evaluate(f"{VISIBLE}.map(e => +e.dataset.index)") == invalid
            assert (
                page.locator("#browse-count").inner_text()
                == f"{len(invalid)} of 12 listed CEs match"
            )

            page.select_option("#browse-controls select[name=valid]", "")
            source = int(exp.source[0])
            page.select_option("#browse-controls select[name=source]", str(source))
            shown = page.evaluate(f"{VISIBLE}.map(e => +e.dataset.index)")
            assert shown == [i for i in range(12) if int(exp.source[i]) == source]

            page.select_option("#browse-controls select[name=source]", "")
            page.select_option("#browse-controls select[name=sort]", "-distance")
            order = page.evaluate(f"{VISIBLE}.map(e => +e.dataset.distance)")
            assert order == sorted(order, reverse=True) and order[0] > 0 == order[-1]

            png = page.screenshot(full_page=True)
            pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
            assert pixels.shape[0] > 1600 and pixels.std() > 10  # not a blank page

            static = browser.new_context(java_script_enabled=False).new_page()
            static.goto(page_path.as_uri())
            assert not static.locator("#browse-controls").is_visible()
            assert static.locator("#browse-list .ce").count() == 12
            assert static.locator("#browse-list .ce:visible").count() == 12
        finally:
            browser.close()
