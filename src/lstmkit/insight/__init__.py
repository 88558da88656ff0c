"""See inside a recurrent network: gates, cell state and gradient flow, and the memory tasks that show them."""

from lstmkit.insight.gates import gates_figure, running_predictions
from lstmkit.insight.gradients import GradientFlow, gradient_flow, gradient_flow_figure, gradient_flow_study
from lstmkit.insight.probes import LayerTrace, Probe, probe
from lstmkit.insight.runs import TextModel, load_imdb_run

__all__ = [
    "GradientFlow", "LayerTrace", "Probe", "TextModel", "gates_figure", "gradient_flow", "gradient_flow_figure",
    "gradient_flow_study", "load_imdb_run", "probe", "running_predictions",
]
