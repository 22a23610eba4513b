"""Reports a person can read: a self-contained HTML page, image grids and plots."""

from leapfactual.report.html import Report, render_html, write_report
from leapfactual.report.images import diff_heatmap, png_data_uri, tile
from leapfactual.report.grid import source_target_grid, save_grid_figure

__all__ = [
    "Report",
    "diff_heatmap",
    "png_data_uri",
    "render_html",
    "save_grid_figure",
    "source_target_grid",
    "tile",
    "write_report",
]
