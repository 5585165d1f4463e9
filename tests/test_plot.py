"""utils.plot.network_stages / plot_network_diagram read the irreps from the model's own layers."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from utils.model import ModelConfig, PeriodicNetwork  # noqa: E402
from utils.plot import network_stages, plot_network_diagram  # noqa: E402


def test_network_stages_follow_the_layers():
    model = PeriodicNetwork(ModelConfig(em_dim=8, mul=4, layers=2, num_neighbors=10.0))
    rows = network_stages(model)
    irreps = {stage: ir for stage, _, ir in rows}
    assert irreps["gate 1"] == str(model.layers[0].irreps_out)
    assert irreps["conv 2 out"] == str(model.layers[1].conv.irreps_out)
    assert irreps["output conv out"] == "51x0e"
    assert sum(stage.startswith("gate") for stage, _, _ in rows) == 2
    ax = plot_network_diagram(model)
    assert len(ax.patches) == len(rows)
    plt.close(ax.figure)
