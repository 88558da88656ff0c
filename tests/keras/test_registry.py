"""The one registry of layer and model classes (class name -> class, filled by `Layer.__init_subclass__`)
that loading reads instead of importing the classes, and the class `Model(inputs, outputs)` builds."""

import json

import numpy as np
import pytest
import torch

import lstmkit.keras as lk
from lstmkit.keras import layers as L
from lstmkit.keras.layers.layer import LAYER_CLASSES
from lstmkit.keras.models import functional as functional_mod
from lstmkit.keras.models.sequential import Sequential


def test_every_layer_and_model_class_is_registered_under_its_name():
    classes = [getattr(L, n) for n in dir(L) if isinstance(getattr(L, n), type) and issubclass(getattr(L, n), L.Layer)]
    assert len(classes) > 25  # the walk found the layers
    for cls in [*classes, lk.Model, Sequential, functional_mod.Functional]:
        if cls is not L.Layer:
            assert LAYER_CLASSES[cls.__name__] is cls


def test_a_layer_class_defined_by_the_user_is_found_when_loading(tmp_path):
    class TimesTwo(L.Layer):  # registered by being defined: no custom_objects needed
        def call(self, inputs: torch.Tensor) -> torch.Tensor:
            return inputs * 2.0

    model = lk.Sequential([lk.Input((3,)), TimesTwo(), L.Dense(2)])
    x = np.arange(6, dtype="float32").reshape(2, 3)
    model.save(tmp_path / "m.keras")
    loaded = lk.models.load_model(tmp_path / "m.keras")
    assert type(loaded.layers[0]) is TimesTwo
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_config_naming_an_unknown_class_is_refused_with_its_name():
    config = json.loads(lk.Sequential([lk.Input((3,)), L.Dense(2)]).to_json())
    config["config"]["layers"][1]["class_name"] = "NoSuchLayer"
    with pytest.raises(ValueError, match=r"unknown layer class 'NoSuchLayer': not an lstmkit.keras layer"):
        lk.models.model_from_json(json.dumps(config))


def test_model_of_inputs_and_outputs_is_lstmkits_functional_beside_a_user_class_of_that_name(monkeypatch):
    # defining the user's class replaces the registry's "Functional" entry; monkeypatch puts lstmkit's back
    monkeypatch.setitem(LAYER_CLASSES, "Functional", functional_mod.Functional)

    class Functional(lk.Model):
        def call(self, inputs: torch.Tensor) -> torch.Tensor:
            return inputs

    assert LAYER_CLASSES["Functional"] is Functional
    inp = lk.Input((3,))
    model = lk.Model(inp, L.Dense(2)(inp))
    assert type(model) is functional_mod.Functional
    rebuilt = lk.Model.from_config(model.get_config())
    assert type(rebuilt) is functional_mod.Functional and rebuilt.count_params() == model.count_params()
