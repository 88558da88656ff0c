"""keras.saving: register_keras_serializable, the names of registered objects, serialize/deserialize,
custom_objects at load; side by side with Keras where the API is Keras'."""

import numpy as np


def test_a_registered_layer_round_trips_by_its_registered_name(K, tmp_path):
    @K.saving.register_keras_serializable(package="TestPkg")
    class Doubler(K.layers.Layer):
        def call(self, x):
            return x * 2

    assert K.saving.get_registered_name(Doubler) == "TestPkg>Doubler"
    assert K.saving.get_registered_object("TestPkg>Doubler") is Doubler
    config = K.saving.serialize_keras_object(Doubler(name="dbl"))
    assert config["class_name"] == "Doubler" and config["registered_name"] == "TestPkg>Doubler"
    again = K.saving.deserialize_keras_object(config)
    assert type(again) is Doubler and again.name == "dbl"
    model = K.Sequential([K.Input((3,)), Doubler(), K.layers.Dense(1)])
    model.save(str(tmp_path / "m.keras"))
    loaded = K.saving.load_model(str(tmp_path / "m.keras"))
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(np.asarray(loaded(x).detach()), np.asarray(model(x).detach()), rtol=1e-6)


def test_builtin_objects_serialize_with_their_class_names(K):
    config = K.saving.serialize_keras_object(K.layers.Dense(2, name="d"))
    assert config["class_name"] == "Dense" and config["registered_name"] is None
    layer = K.saving.deserialize_keras_object(config)
    assert type(layer).__name__ == "Dense" and layer.units == 2
    init = K.saving.deserialize_keras_object(K.saving.serialize_keras_object(K.initializers.Constant(2.0)))
    np.testing.assert_array_equal(np.asarray(init((2,))), [2.0, 2.0])


def test_a_class_defined_again_takes_its_registered_name_over(K):
    """A notebook cell run twice defines the class again: the newer one is what loads (Keras' rule)."""
    def define():
        @K.saving.register_keras_serializable(package="TestAgain")
        class Again(K.layers.Layer):
            pass

        return Again

    first, second = define(), define()
    assert first is not second and K.saving.get_registered_object("TestAgain>Again") is second


def test_custom_objects_name_a_class_at_load(tmp_path):
    """A user's class named like a built-in is used only where it is given (custom_objects) or registered."""
    import lstmkit.keras as lk

    class Scale(lk.layers.Layer):
        def __init__(self, factor=3.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    model = lk.Sequential([lk.Input((2,)), Scale(5.0)])
    model.save(str(tmp_path / "s.keras"))
    loaded = lk.saving.load_model(str(tmp_path / "s.keras"), custom_objects={"Scale": Scale})
    np.testing.assert_array_equal(np.asarray(loaded(np.ones((1, 2), "float32")).detach()), [[5.0, 5.0]])
