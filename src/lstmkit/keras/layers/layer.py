"""`Layer`: a `torch.nn.Module` with Keras' life cycle.

A layer is created with its options, built on the first input shape it sees (`build(input_shape)`
creates the weights with Keras' initializers), then called. Like Keras 3 on its torch backend, a
mask travels with a tensor as its `_keras_mask` attribute: `Embedding(mask_zero=True)` or `Masking`
set it, recurrent layers read it. Models call `_call_internal`, which passes masks explicitly.

Weights live as parameters (trainable) or buffers (non-trainable, e.g. BatchNormalization's moving
statistics); `weights`, `get_weights()` and `set_weights()` use Keras' layout and order.
"""

from __future__ import annotations

import functools
import inspect
import re
import warnings
import weakref
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from lstmkit.keras import constraints as constraints_mod
from lstmkit.keras import initializers as initializers_mod
from lstmkit.keras import regularizers as regularizers_mod
from lstmkit.keras.keras_tensor import (
    KerasTensor,
    Node,
    Shape,
    any_symbolic,
    dtype_name,
    flatten,
    map_structure,
)
from lstmkit.keras.mixed_precision import POLICIES, DTypePolicy, policy_of
from lstmkit.keras.random import SeedGenerator
from lstmkit.keras.variables import Variable

# The `training` flag of the current call, read by layers called with training=None (Keras' rule).
_TRAINING: ContextVar[bool] = ContextVar("lstmkit_keras_training", default=False)
_UIDS: defaultdict[str, int] = defaultdict(int)
LAYER_CLASSES: dict[str, type[Layer]] = {}  # class name -> class, for load_model (no code from files)


def to_snake_case(name: str) -> str:
    """Keras' rule: `SimpleRNN` -> `simple_rnn`, `MaxPooling1D` -> `max_pooling1d`."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def auto_name(prefix: str) -> str:
    """`dense`, then `dense_1`, `dense_2`, ... as Keras names layers."""
    uid = _UIDS[prefix]
    _UIDS[prefix] += 1
    return prefix if uid == 0 else f"{prefix}_{uid}"


@contextmanager
def training_mode(training: bool) -> Iterator[None]:
    token = _TRAINING.set(bool(training))
    try:
        yield
    finally:
        _TRAINING.reset(token)


def fmt_shape(shape: Any) -> str:
    if isinstance(shape, list):
        return "[" + ", ".join(fmt_shape(s) for s in shape) + "]"
    if isinstance(shape, tuple) and all(s is None or isinstance(s, int) for s in shape):
        return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
    return str(shape)


def get_mask(x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        masks = [getattr(t, "_keras_mask", None) for t in x]
        return None if all(m is None for m in masks) else masks
    return getattr(x, "_keras_mask", None)


def set_mask(outputs: Any, mask: Any) -> None:
    """Attach masks to output tensors (Keras 3's torch-backend convention)."""
    if isinstance(outputs, (list, tuple)):
        masks = mask if isinstance(mask, (list, tuple)) else [mask] + [None] * (len(outputs) - 1)
        for o, m in zip(outputs, masks):
            set_mask(o, m)
    elif isinstance(outputs, torch.Tensor):
        outputs._keras_mask = mask  # type: ignore[attr-defined]


def to_tensor(x: Any) -> Any:
    """NumPy arrays, lists and scalars to torch tensors: floats as float32, integers as int64."""
    if isinstance(x, torch.Tensor):
        return x.float() if x.is_floating_point() and x.dtype != torch.float32 else x
    if isinstance(x, (list, tuple)) and any(isinstance(t, (torch.Tensor, np.ndarray)) for t in x):
        return type(x)(to_tensor(t) for t in x)
    a = np.asarray(x)
    if a.dtype == object:
        raise ValueError(
            f"cannot make a tensor of an array of Python objects (shape {a.shape}): sequences of different "
            "lengths must be padded first, e.g. with pad_sequences"
        )
    if a.dtype.kind == "f":
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    if a.dtype.kind in "iub":
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))
    raise ValueError(f"cannot use an array of dtype {a.dtype} as a layer input")


# Layers with one of these weights multiply their input by it (Dense, Conv*, the recurrent cells): they get
# boolean and integer inputs (one-hot text as np.bool_, counts) as their compute dtype, the float result
# Keras' matmul reaches by type promotion; Embedding and the lookup layers index with integers and keep them.
_KERNEL_NAMES = frozenset({"kernel", "depthwise_kernel", "pointwise_kernel"})


def _integers_to_float(inputs: Any, dtype: torch.dtype) -> Any:
    """Boolean and integer tensors in `inputs` cast to `dtype`; floating ones as they are."""
    return map_structure(lambda t: t.to(dtype) if isinstance(t, torch.Tensor) and not t.is_floating_point()
                         and not t.is_complex() else t, inputs)


@dataclass
class WeightSpec:
    """One Keras weight of a layer: where it lives and what applies to it."""

    name: str  # Keras' name: kernel, recurrent_kernel, bias, embeddings, gamma, ...
    attr: str  # the parameter or buffer holding it
    trainable: bool
    regularizer: regularizers_mod.Regularizer | None = None
    constraint: constraints_mod.Constraint | None = None


class Layer(nn.Module):
    """Base class of every lstmkit.keras layer (and of models)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        LAYER_CLASSES[cls.__name__] = cls
        if "build" in cls.__dict__:  # as Keras: a layer built by hand is built (its weights made once)
            cls.build = _marks_built(cls.__dict__["build"])  # type: ignore[method-assign]

    def __new__(cls, *args: Any, **kwargs: Any) -> Layer:
        layer = super().__new__(cls)
        layer.__dict__["_init_args"] = (args, kwargs)  # for the config of a subclass without get_config (Keras')
        return layer

    def __init__(
        self,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype: Any = None,
        input_shape: tuple | None = None,
        batch_input_shape: tuple | None = None,
        input_dim: int | None = None,
        batch_size: int | None = None,
        activity_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {sorted(kwargs)}")
        if dtype is not None and not isinstance(dtype, (DTypePolicy, dict)) and \
                dtype_name(dtype) not in ("float32", "int32", "int64", *POLICIES):
            raise ValueError(f"{type(self).__name__}: dtype must be float32 or a policy of "
                             f"{sorted(POLICIES)}, got dtype={dtype!r}")
        is_int = dtype is not None and dtype_name(dtype) in ("int32", "int64")
        self._dtype_policy = policy_of(None if is_int else dtype)
        self.name = name or auto_name(to_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self.built = False
        self.supports_masking = False
        self.activity_regularizer = regularizers_mod.get(activity_regularizer)
        self._weight_specs: list[WeightSpec] = []
        self._variables: dict[int, Variable] = {}  # id(spec) -> its Variable, one for the layer's life
        self._activity_losses: list[torch.Tensor] = []
        self._build_shape: Any = None
        self._output_shape: Any = None  # recorded by models, shown by summary()
        self._inbound_nodes: list[Node] = []
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            self._batch_input_shape: Shape | None = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (batch_size, *tuple(input_shape))
        else:
            self._batch_input_shape = None
        if type(self).build is Layer.build:  # no build() of its own, so no weights: built now, as Keras does
            self.built = True

    # ----- life cycle -------------------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        """Create the weights for inputs of `input_shape` (batch first, None where unknown)."""

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement call()")

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The eager call (real tensors). `__call__` reaches it through torch's `Module.__call__`, so
        torch forward hooks (and pre-hooks) fire on Keras-style layers as on any module."""
        if not args:
            raise ValueError(f"Layer '{self.name}' was called without inputs")
        inputs, rest = args[0], args[1:]
        device = self._weights_device() if self.built else None
        if device is not None:  # an eager call with data elsewhere than the weights (fit moved them to CUDA)
            inputs = map_structure(lambda t: t.to(device) if isinstance(t, torch.Tensor) and t.device != device
                                   else t, inputs)
        mask = kwargs.pop("mask", None)
        if mask is None:
            mask = get_mask(inputs)
        outputs, out_mask = self._call_internal(inputs, *rest, mask=mask, **kwargs)
        set_mask(outputs, out_mask)
        return outputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output shape for an input shape. The default runs the layer once on zeros."""
        def zeros(shape: Shape) -> torch.Tensor:
            return torch.zeros(tuple(1 if s is None else s for s in shape), device=self._device())
        x = map_structure(zeros, input_shape) if isinstance(input_shape, list) else zeros(input_shape)
        with torch.no_grad(), training_mode(False):
            out, _ = self._call_internal(x)
        return map_structure(lambda t: (None, *tuple(t.shape[1:])), out)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The mask of the output: the input mask when the layer supports masking, else none."""
        return mask if self.supports_masking else None

    def _maybe_build(self, input_shape: Any, device: torch.device | None = None) -> None:
        if self.built:
            if self._build_shape is None and type(self).build is Layer.build:  # built when made (no weights):
                self._check_input_shape(input_shape)  # its first input is still checked
                self._build_shape = input_shape
            return
        self._check_input_shape(input_shape)
        self.build(input_shape)
        self.built = True
        self._build_shape = input_shape
        if device is not None:
            self.to(device)

    def _check_input_shape(self, input_shape: Any) -> None:
        """Raise a ValueError naming the layer when inputs of this shape cannot fit; per layer."""

    def _error(self, message: str) -> ValueError:
        return ValueError(f"Layer '{self.name}' ({type(self).__name__}): {message}")

    def _device(self) -> torch.device:
        return self._weights_device() or torch.device("cpu")

    def _weights_device(self) -> torch.device | None:
        for t in self._own_tensors():
            return t.device
        return None

    def _own_tensors(self) -> Iterator[torch.Tensor]:
        yield from self.parameters()
        yield from self.buffers()

    # ----- calling ----------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if any_symbolic((args, kwargs)):
            return self._symbolic_call(*args, **kwargs)
        return nn.Module.__call__(self, *args, **kwargs)

    def _call_internal(self, inputs: Any, *args: Any, mask: Any = None, training: bool | None = None,
                       **kwargs: Any) -> tuple[Any, Any]:
        """Call on real tensors with an explicit mask; returns (outputs, output mask)."""
        inputs = to_tensor(inputs)
        if not self.built or self._build_shape is None:
            first = flatten(inputs)[0]
            self._maybe_build(map_structure(lambda t: tuple(t.shape), inputs), device=first.device)
        if any(spec.name in _KERNEL_NAMES for spec in self._weight_specs):
            inputs = _integers_to_float(inputs, self._dtype_policy.torch_compute_dtype)
        training = _TRAINING.get() if training is None else bool(training)
        accepted = _call_arguments(type(self))
        if "mask" in accepted:
            kwargs["mask"] = mask
        elif mask is not None and any(m is not None for m in flatten(mask)) and not self.supports_masking:
            _warn_mask_dropped(self)
        if "training" in accepted:
            kwargs["training"] = training
        policy = self._dtype_policy
        with training_mode(training):
            if policy.mixed:  # compute in bfloat16/float16, variables stay float32 (Keras' mixed policies)
                half = policy.torch_compute_dtype  # floating inputs are cast to it, as Keras' autocast does
                inputs = map_structure(lambda t: t.to(half) if isinstance(t, torch.Tensor) and t.is_floating_point()
                                       else t, inputs)
                device = flatten(inputs)[0].device.type if flatten(inputs) else "cpu"
                with torch.autocast(device_type=device, dtype=policy.torch_compute_dtype):
                    outputs = self.call(inputs, *args, **kwargs)
            else:
                outputs = self.call(inputs, *args, **kwargs)
        out_mask = self.compute_mask(inputs, mask)
        if self.activity_regularizer is not None:
            first = flatten(outputs)[0]
            self._activity_losses = [self.activity_regularizer(first) / first.shape[0]]
        return outputs, out_mask

    def _symbolic_call(self, *args: Any, **kwargs: Any) -> Any:
        inputs = args[0]
        shapes = map_structure(lambda t: t.shape, inputs)
        try:
            self._maybe_build(shapes)
            out_shapes = self.compute_output_shape(shapes)
        except ValueError as e:
            sources = [t.node.layer.name for t in flatten(inputs) if isinstance(t, KerasTensor) and t.node]
            hint = f" (its input comes from layer {', '.join(repr(s) for s in sources)})" if sources else ""
            raise ValueError(f"{e}{hint}") from None
        self._output_shape = out_shapes
        out_dtype = self._output_dtype(inputs)
        if _is_shape(out_shapes):
            outputs: Any = KerasTensor(out_shapes, out_dtype, name=self.name)
        else:
            outputs = tuple(KerasTensor(s, out_dtype, name=self.name) for s in out_shapes)
        node = Node(self, args, kwargs, outputs)
        for i, t in enumerate(flatten(outputs)):
            t.node, t.index = node, i
        self._inbound_nodes.append(node)
        return outputs

    def _output_dtype(self, inputs: Any) -> str:
        return "float32"

    # ----- weights ----------------------------------------------------------------------------
    def add_weight(
        self,
        shape: tuple[int, ...] | None = None,
        initializer: Any = "glorot_uniform",
        dtype: Any = None,
        trainable: bool = True,
        regularizer: Any = None,
        constraint: Any = None,
        name: str | None = None,
    ) -> torch.Tensor:
        """Create a weight with a Keras initializer; trainable ones are parameters, others buffers."""
        shape = tuple(int(s) for s in (shape or ()))
        name = name or f"weight_{len(self._weight_specs)}"
        attr = name
        while attr in self._parameters or attr in self._buffers or attr in self.__dict__:
            attr += "_"
        value = initializers_mod.get(initializer)(shape).contiguous()  # (orthogonal draws a transpose)
        if trainable:
            self.register_parameter(attr, nn.Parameter(value, requires_grad=self._trainable))
        else:
            self.register_buffer(attr, value)
        spec = WeightSpec(name, attr, trainable, regularizers_mod.get(regularizer), constraints_mod.get(constraint))
        self._weight_specs.append(spec)
        return self._variable(spec)

    # ----- Variables: Keras' handles on the weights ----------------------------------------------
    def _variable(self, spec: WeightSpec) -> Variable:
        """The one Variable of `spec` (made on first use)."""
        v = self._variables.get(id(spec))
        if v is None:
            v = self._variables[id(spec)] = Variable(self, spec)
        return v

    def _variable_value(self, spec: WeightSpec) -> torch.Tensor:
        """The tensor behind the Variable of `spec`: its parameter or buffer (Keras' layout)."""
        for other, tensor in self._keras_weights():  # a layer may keep its weights in another layout
            if other is spec:
                return tensor
        raise self._error(f"has no weight {spec.name!r}")

    def _set_variable_trainable(self, spec: WeightSpec, value: bool) -> None:
        spec.trainable = value
        if spec.attr in self._parameters:
            self._parameters[spec.attr].requires_grad_(value and self._trainable)  # type: ignore[union-attr]

    def __getattr__(self, name: str) -> Any:
        # a weight made by add_weight under this name reads as its Variable, as in Keras (`layer.kernel`)
        variables = self.__dict__.get("_variables")
        if variables:
            for v in variables.values():
                if v._spec.attr == name:
                    return v
        return super().__getattr__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Variable) and value._layer is self and value._spec.attr == name:
            return  # `self.kernel = self.add_weight(name="kernel")`: the weight is already in place
        if isinstance(value, SeedGenerator):  # Keras tracks a layer's seed generators: their states are its state
            tracked = self.__dict__.setdefault("_seed_generators", [])
            if all(g is not value for g in tracked):
                tracked.append(value)
        super().__setattr__(name, value)

    @property
    def dtype_policy(self) -> DTypePolicy:
        return self._dtype_policy

    @property
    def compute_dtype(self) -> str:
        return self._dtype_policy.compute_dtype

    @property
    def variable_dtype(self) -> str:
        return self._dtype_policy.variable_dtype

    @property
    def dtype(self) -> str:
        """The variables' dtype, as Keras' `layer.dtype` (an InputLayer's: its input's)."""
        return self.__dict__.get("_dtype_set") or self._dtype_policy.variable_dtype

    @dtype.setter
    def dtype(self, value: str) -> None:
        self.__dict__["_dtype_set"] = value

    @property
    def path(self) -> str:
        """Where the layer sits: `sequential/dense` inside a model, `dense` alone (Keras' variable paths)."""
        parent = self.__dict__.get("_path_parent")
        owner = parent() if parent is not None else None
        return f"{owner.path}/{self.name}" if owner is not None else self.name

    def _sublayers(self) -> list[Layer]:
        """Child layers whose weights follow this layer's own, in Keras' order (wrappers, models)."""
        return []

    def _keras_weights(self) -> list[tuple[WeightSpec, torch.Tensor]]:
        """This layer's own weights in Keras' layout and order, differentiable. Layers that store
        weights in another layout (the recurrent ones) override this and `_assign_keras`."""
        return [(spec, self._stored(spec)) for spec in self._weight_specs]

    def _stored(self, spec: WeightSpec) -> torch.Tensor:
        """The parameter or buffer `add_weight` made for `spec`."""
        if spec.attr in self._parameters:
            return self._parameters[spec.attr]  # type: ignore[return-value]
        if spec.attr in self._buffers:
            return self._buffers[spec.attr]  # type: ignore[return-value]
        raise self._error(f"has no weight {spec.name!r}")

    def _assign_keras(self, values: list[torch.Tensor]) -> None:
        """Copy values given in Keras' layout into this layer's own weights (no autograd)."""
        with torch.no_grad():
            for (_, t), v in zip(self._keras_weights(), values):
                t.copy_(v.to(t.device, t.dtype))

    def _all_keras_weights(self) -> list[tuple[WeightSpec, torch.Tensor]]:
        out = list(self._keras_weights())
        for layer in self._children():
            out.extend(layer._all_keras_weights())
        return out

    def _children(self) -> list[Layer]:
        """`_sublayers()`, each told that it sits in this layer (for its variables' paths)."""
        children = self._sublayers()
        for layer in children:
            layer.__dict__["_path_parent"] = weakref.ref(self)
        return children

    def _own_variables(self) -> list[Variable]:
        return [self._variable(spec) for spec, _ in self._keras_weights()]

    @property
    def weights(self) -> list[Variable]:
        """All weights as Variables, Keras' layout and order (own first, then sublayers'): the same
        objects on every access."""
        return self._own_variables() + [v for layer in self._children() for v in layer.weights]

    @property
    def trainable_weights(self) -> list[Variable]:
        if not self.trainable:
            return []
        own = [v for v in self._own_variables() if v._spec.trainable]
        return own + [v for layer in self._children() for v in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[Variable]:
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.weights if id(v) not in trainable]

    # ----- variables: the weights and the rest of the layer's state (seed generators), as Keras'
    @property
    def variables(self) -> list[Variable]:
        """The weights, then the states of the seed generators this layer tracks, then the sublayers'
        variables, each once (Keras' `Layer.variables`)."""
        out: list[Variable] = []
        seen: set[int] = set()
        own = [*self._own_variables(), *(g.state for g in self.__dict__.get("_seed_generators", ()))]
        for v in own + [v for layer in self._children() for v in layer.variables]:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        return out

    @property
    def trainable_variables(self) -> list[Variable]:
        return self.trainable_weights

    @property
    def non_trainable_variables(self) -> list[Variable]:
        """Non-trainable weights and the seed generators' states (everything, for a frozen layer)."""
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.variables if id(v) not in trainable]

    def get_weights(self) -> list[np.ndarray]:
        """NumPy copies of the weights in Keras' layout and order (own first, then sublayers')."""
        out = [t.detach().cpu().numpy().copy() for _, t in self._keras_weights()]
        for layer in self._sublayers():
            out.extend(layer.get_weights())
        return out

    def set_weights(self, weights: list[Any]) -> None:
        """Load weights given in Keras' layout and order (e.g. from a Keras layer's get_weights())."""
        self._require_built("set_weights")
        expected = self._all_keras_weight_shapes()
        weights = list(weights)
        if len(weights) != len(expected):
            raise self._error(
                f"set_weights got {len(weights)} arrays but the layer has {len(expected)} weights of shapes "
                f"{[fmt_shape(s) for s in expected]}"
            )
        values = []
        for i, (w, shape) in enumerate(zip(weights, expected)):
            t = w.detach().cpu().float() if isinstance(w, torch.Tensor) else torch.as_tensor(np.asarray(w, np.float32))
            if tuple(t.shape) != shape:
                raise self._error(f"weight {i} must have shape {fmt_shape(shape)}, got {fmt_shape(tuple(t.shape))}")
            values.append(t)
        self._set_all_keras(values)

    def _all_keras_weight_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(t.shape) for t in self.weights]

    def _set_all_keras(self, values: list[torch.Tensor]) -> None:
        n = len(self._keras_weights())
        self._assign_keras(values[:n])
        values = values[n:]
        for layer in self._sublayers():
            k = len(layer._all_keras_weights())
            layer._set_all_keras(values[:k])
            values = values[k:]

    def count_params(self) -> int:
        self._require_built("count_params")
        return int(sum(t.numel() for t in self.weights))

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise self._error(
                f"{what}() needs the layer to be built: call it on data, or give the input shape "
                "(input_shape=... or an Input(shape) first)"
            )

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for spec in self._weight_specs:
            if spec.trainable and spec.attr in self._parameters:
                self._parameters[spec.attr].requires_grad_(self._trainable)
        self._on_trainable_change()
        for layer in self._sublayers():
            layer.trainable = value

    def _on_trainable_change(self) -> None:
        """Hook for layers whose parameters are not described by `_weight_specs`."""

    @property
    def losses(self) -> list[torch.Tensor]:
        """Regularization penalties of the weights, and activity penalties of the last call."""
        out = [spec.regularizer(t) for spec, t in self._keras_weights() if spec.regularizer is not None]
        out += self._activity_losses
        for layer in self._sublayers():
            out += layer.losses
        return out

    def _apply_constraints(self) -> None:
        """After an optimizer step: replace each constrained weight by its constrained value."""
        entries = self._keras_weights()
        if any(spec.constraint is not None for spec, _ in entries):
            with torch.no_grad():
                values = [spec.constraint(t.detach()) if spec.constraint is not None else t.detach()
                          for spec, t in entries]
                self._assign_keras(values)
        for layer in self._sublayers():
            layer._apply_constraints()

    # ----- config -------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers_mod.serialize(self.activity_regularizer)
        if type(self).get_config is Layer.get_config:  # a user's layer without get_config: Keras' automatic config
            config = {**self._constructor_arguments(), **config}
        return config

    def _constructor_arguments(self) -> dict[str, Any]:
        """The arguments the layer was made with, by name, when all are plain values (numbers, strings, None and
        lists, tuples or dicts of them), as Keras records them; else none (the config is then the base one)."""
        args, kwargs = self.__dict__.get("_init_args", ((), {}))
        try:
            bound = inspect.signature(type(self).__init__).bind(self, *args, **kwargs)
        except TypeError:
            return {}
        out: dict[str, Any] = {}
        for i, (key, param) in enumerate(inspect.signature(type(self).__init__).parameters.items()):
            if i == 0 or key not in bound.arguments:
                continue
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                return {}  # positional extras have no names to write
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                out.update(bound.arguments[key])
            else:
                out[key] = bound.arguments[key]
        return out if all(_plain(v) for v in out.values()) else {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        try:
            return cls(**config)
        except Exception as e:  # Keras' rule: any failure to rebuild a layer from its config is a TypeError
            raise TypeError(f"Error when deserializing class '{cls.__name__}' using config={config}: {e}") from e

    @property
    def output_shape(self) -> Any:
        if self._output_shape is None:
            raise AttributeError(f"Layer '{self.name}' has no output shape yet: it has not been called")
        return self._output_shape

    @property
    def input(self) -> Any:
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has not been called on a symbolic input")
        args = self._inbound_nodes[0].args
        return args[0]

    @property
    def output(self) -> Any:
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has not been called on a symbolic input")
        return self._inbound_nodes[0].outputs

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


def _marks_built(build: Any) -> Any:
    """`build` that also records the layer as built with that shape, when called directly (Keras'
    build wrapper): a later call does not build again, and set_weights works at once."""
    if getattr(build, "_marks_built", False):
        return build

    @functools.wraps(build)
    def wrapper(self: Layer, *args: Any, **kwargs: Any) -> Any:
        out = build(self, *args, **kwargs)
        if not self.built:
            self.built = True
            if self._build_shape is None:
                self._build_shape = args[0] if args else kwargs.get("input_shape")
        return out

    wrapper._marks_built = True  # type: ignore[attr-defined]
    return wrapper


Layer.build = _marks_built(Layer.build)  # type: ignore[method-assign]  (a layer without weights: build() too)


_CALL_ARGS: dict[type, frozenset[str]] = {}


def _call_arguments(cls: type) -> frozenset[str]:
    if cls not in _CALL_ARGS:
        _CALL_ARGS[cls] = frozenset(inspect.signature(cls.call).parameters)
    return _CALL_ARGS[cls]


_WARNED: set[str] = set()


def _warn_mask_dropped(layer: Layer) -> None:
    if layer.name not in _WARNED:
        _WARNED.add(layer.name)
        warnings.warn(
            f"Layer '{layer.name}' ({type(layer).__name__}) got an input with a mask but does not support "
            "masking; downstream layers will not see the mask (as in Keras)",
            stacklevel=3,
        )


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _is_shape(s: Any) -> bool:
    return isinstance(s, tuple) and all(d is None or isinstance(d, int) for d in s)
