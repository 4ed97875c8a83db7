"""Pictures of what tensors, autodiff and training do.

`draw_graph` turns the graph recorded behind a tensor into Graphviz DOT text (rendered to SVG or
PNG where Graphviz's ``dot`` is installed). `plot_history`, `show_images` and
`plot_decision_boundary` draw with matplotlib, an optional dependency:
``pip install 'ndgrad[viz]'``. Importing this package needs neither.
"""

from .graph import draw_graph, render
from .plots import plot_decision_boundary, plot_history, show_images

__all__ = ["draw_graph", "plot_decision_boundary", "plot_history", "render", "show_images"]
