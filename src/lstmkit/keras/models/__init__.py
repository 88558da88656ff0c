"""`lstmkit.keras.models`: Sequential, Model (functional and subclassed), saving and loading."""

from lstmkit.keras.models.functional import Functional
from lstmkit.keras.models.model import Model
from lstmkit.keras.models.saving import load_model, model_from_config, model_from_json, save_model
from lstmkit.keras.models.sequential import Sequential

__all__ = ["Functional", "Model", "Sequential", "load_model", "model_from_config", "model_from_json", "save_model"]
