"""Reports a person can read: a self-contained HTML page, image grids and plots."""

from leapfactual.io.images import png_data_uri, tile
from leapfactual.report.build import build_report, headline
from leapfactual.report.grid import save_grid_figure, source_target_grid
from leapfactual.report.html import Report, render_html, write_report
from leapfactual.report.images import diff_heatmap

__all__ = [
    "Report",
    "build_report",
    "diff_heatmap",
    "headline",
    "png_data_uri",
    "render_html",
    "save_grid_figure",
    "source_target_grid",
    "tile",
    "write_report",
]
