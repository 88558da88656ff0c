"""The two toy cells of Keras' rnn_test.py (also used by stacked_rnn_cells_test.py), written for either library.

All weights are ones, so the outputs are sums that the tests can state exactly. As in Keras' test, the cells have
no get_config of their own: a config round trip relies on the layer remembering its constructor's arguments."""

from functools import cache
from typing import Any


@cache
def toy_cells(K: Any) -> tuple[type, type]:
    """(OneStateRNNCell, TwoStatesRNNCell) subclassing `K.layers.Layer`."""

    class OneStateRNNCell(K.layers.Layer):
        """output = x · kernel + h_prev · recurrent_kernel; the state is the output."""

        def __init__(self, units: int, state_size: Any = None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.units = units
            self.state_size = state_size if state_size else units

        def build(self, input_shape: Any) -> None:
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="ones",
                                                    name="recurrent_kernel")

        def call(self, inputs: Any, states: Any) -> Any:
            output = inputs @ self.kernel + states[0] @ self.recurrent_kernel
            return output, [output]

    class TwoStatesRNNCell(K.layers.Layer):
        """Two states that both start from the *first* previous state (as Keras' test cell does); the output is
        their sum."""

        def __init__(self, units: int, state_size: Any = None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.units = units
            self.state_size = state_size if state_size else [units, units]
            self.output_size = units

        def build(self, input_shape: Any) -> None:
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones", name="kernel")
            self.recurrent_kernel_1 = self.add_weight(shape=(self.units, self.units), initializer="ones",
                                                      name="recurrent_kernel_1")
            self.recurrent_kernel_2 = self.add_weight(shape=(self.units, self.units), initializer="ones",
                                                      name="recurrent_kernel_2")

        def call(self, inputs: Any, states: Any) -> Any:
            h = inputs @ self.kernel
            output_1 = h + states[0] @ self.recurrent_kernel_1
            output_2 = h + states[0] @ self.recurrent_kernel_2
            return output_1 + output_2, [output_1, output_2]

    return OneStateRNNCell, TwoStatesRNNCell


def custom_objects(K: Any) -> dict[str, type]:
    one, two = toy_cells(K)
    return {"OneStateRNNCell": one, "TwoStatesRNNCell": two}
