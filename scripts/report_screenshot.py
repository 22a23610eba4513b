"""A PNG of the top of a report page, rendered by headless Chromium (for the README).

    python scripts/report_screenshot.py runs/demo/report.html docs/images/report.png

Opens the page with Playwright and the system Chromium (``make test`` installs Debian's),
waits until every image has decoded, and captures the page from the top to the end of
``--until`` (an element id; default the per-leap curves) at ``--width`` CSS pixels.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--until", default="curves")
    parser.add_argument("--width", type=int, default=1240)
    args = parser.parse_args()
    from playwright import sync_api

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": args.width, "height": 900})
            page.goto(args.page.resolve().as_uri())
            page.wait_for_function(
                "[...document.images].every(i => i.complete && i.naturalWidth > 0)"
            )
            box = page.locator(f"#{args.until}").bounding_box()
            if box is None:
                raise SystemExit(f"the page has no element with id {args.until!r}")
            height = int(box["y"] + box["height"] + 16)
            args.png.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(
                path=str(args.png),
                full_page=True,
                clip={"x": 0, "y": 0, "width": args.width, "height": height},
            )
        finally:
            browser.close()
    print(f"screenshot: {args.png} ({args.width} x {height} CSS pixels)")


if __name__ == "__main__":
    main()
