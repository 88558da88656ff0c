"""`lstmkit.keras.optimizers`: Keras 3's optimizers (base.py, classic.py, more.py) and their learning-rate
schedules (`optimizers.schedules`)."""

from lstmkit.keras.mixed_precision import LossScaleOptimizer
from lstmkit.keras.optimizers import schedules
from lstmkit.keras.optimizers.base import LearningRate, Optimizer
from lstmkit.keras.optimizers.classic import SGD, Adagrad, Adam, AdamW, RMSprop
from lstmkit.keras.optimizers.lookup import deserialize, get, serialize
from lstmkit.keras.optimizers.more import Adadelta, Adamax, Ftrl, Lion, Nadam

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "Ftrl", "LearningRate", "Lion",
           "LossScaleOptimizer", "Nadam", "Optimizer", "RMSprop", "deserialize", "get", "schedules", "serialize"]
