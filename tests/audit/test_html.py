from pathlib import Path

from PIL import Image

from leapfactual.audit.html import page_html, write_page_html

PAGE = """# Audit: which changes

- Command: `leapfactual audit run --out a`
- Data: run `r`; 3 CEs
  over two lines

## Where

Run verdict: **untrusted**. Read [the method](../method.md).

| candidate | reliance |
|---|---|
| cell r3c3 | 85% |

![necessity maps](necessity.png)
"""


def test_the_page_becomes_one_self_contained_html_file(tmp_path: Path) -> None:
    Image.new("RGB", (4, 4), "red").save(tmp_path / "necessity.png")
    (tmp_path / "audit.md").write_text(PAGE)
    text = write_page_html(tmp_path / "audit.md").read_text()
    assert "<title>Audit: which changes</title>" in text and "<h2>Where</h2>" in text
    assert "<li>Data: run <code>r</code>; 3 CEs over two lines</li>" in text
    assert "<strong>untrusted</strong>" in text and '<a href="../method.md">' in text
    assert "<tr><th>candidate</th><th>reliance</th></tr>" in text
    assert "<tr><td>cell r3c3</td><td>85%</td></tr>" in text and "---" not in text
    assert 'src="data:image/png;base64,' in text and "necessity.png" not in text.split("alt")[0]


def test_text_is_escaped_and_a_missing_or_outside_image_is_named_not_read(tmp_path) -> None:
    Image.new("RGB", (4, 4), "red").save(tmp_path / "secret.png")
    (tmp_path / "page").mkdir()
    text = page_html("# T\n\na <script> & b\n\n![x](../secret.png)\n", tmp_path / "page")
    assert "&lt;script&gt; &amp; b" in text and "<script>" not in text
    assert "[x: ../secret.png not found]" in text
