"""Reports a person can read: a self-contained HTML page, image grids and plots."""

from leapfactual.report.build import build_report, headline
from leapfactual.report.demo import DemoConfig, DemoResult, run_demo, write_demo_report
from leapfactual.report.figures import figure
from leapfactual.report.grid import save_grid_figure, source_target_grid
from leapfactual.report.html import Report, render_html, write_report
from leapfactual.report.images import diff_heatmap
from leapfactual.report.pages import NOTE, Section, machine, render_page, write_page
from leapfactual.report.sections import check_order
from leapfactual.report.side_by_side import write_side_by_side_page

__all__ = [
    "NOTE",
    "DemoConfig",
    "DemoResult",
    "Report",
    "Section",
    "build_report",
    "check_order",
    "diff_heatmap",
    "figure",
    "headline",
    "machine",
    "render_html",
    "render_page",
    "run_demo",
    "save_grid_figure",
    "source_target_grid",
    "write_demo_report",
    "write_page",
    "write_report",
    "write_side_by_side_page",
]
