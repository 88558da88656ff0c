"""Dynamic int8 quantisation of models holding lstmkit.nn layers, by torch's own quantised modules.

`torch.ao.quantization.quantize_dynamic` picks the modules to quantise by their exact class
(`type(m) in {nn.LSTM, nn.GRU, nn.LSTMCell, ...}`), so it passes over lstmkit's layers, which are
subclasses (of `nn.RNNBase` and torch's cells). `quantize_dynamic` here first swaps each lstmkit
layer for its torch.nn twin with the same weights (`to_torch`), then hands the model to torch's
function: the result holds torch's `DynamicQuantizedLSTM`/`GRU`/cells, as for a torch.nn model. When
torch's own function (or `prepare`) meets an lstmkit layer, it sets the layer's `qconfig`; lstmkit's
layers warn then that they stay float, and name this function. A
layer that torch.nn cannot express exactly (recurrent dropout, other activations, reset_after=False,
lstmkit's variants) is refused by name rather than quantised as something else.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import torch
from torch import nn

from lstmkit.nn.cells import GRUCell, LSTMCell, RNNCell
from lstmkit.nn.rnn import GRU, LSTM, RNN

_TWINS: dict[type, type] = {LSTM: nn.LSTM, GRU: nn.GRU, RNN: nn.RNN, LSTMCell: nn.LSTMCell, GRUCell: nn.GRUCell,
                            RNNCell: nn.RNNCell}
_DEFAULT_SPEC = {nn.Linear, nn.LSTM, nn.GRU, nn.LSTMCell, nn.RNNCell, nn.GRUCell}


def _refuse(module: nn.Module, reason: str) -> ValueError:
    return ValueError(f"lstmkit.nn.{type(module).__name__} has {reason}, which torch.nn.{type(module).__name__} "
                      f"(and so its quantised form) cannot express; quantise a layer without it")


def _check_expressible(module: nn.Module) -> None:
    if getattr(module, "recurrent_dropout", 0.0):
        raise _refuse(module, f"recurrent_dropout={module.recurrent_dropout}")
    for name, default in (("activation", getattr(module, "nonlinearity", "tanh")), ("recurrent_activation", "sigmoid")):
        value = getattr(module, name, default)
        if value != default:
            raise _refuse(module, f"{name}={value!r}")
    if getattr(module, "reset_after", True) is not True:
        raise _refuse(module, "reset_after=False")


def to_torch(module: nn.Module) -> nn.Module:
    """The torch.nn module equal to an lstmkit.nn LSTM, GRU, RNN or cell: same options, same weights
    (copied), same device and dtype, in the same train/eval mode."""
    twin_cls = _TWINS.get(type(module))
    if twin_cls is None:
        raise ValueError(f"to_torch takes an lstmkit.nn LSTM, GRU, RNN or cell, got {type(module).__name__}")
    _check_expressible(module)
    if isinstance(module, nn.RNNBase):
        kwargs: dict[str, Any] = {"num_layers": module.num_layers, "bias": module.bias,
                                  "batch_first": module.batch_first, "dropout": module.dropout,
                                  "bidirectional": module.bidirectional}
        if isinstance(module, LSTM):
            kwargs["proj_size"] = module.proj_size
        if isinstance(module, RNN):
            kwargs["nonlinearity"] = module.nonlinearity
    else:
        kwargs = {"bias": module.bias}
        if isinstance(module, RNNCell):
            kwargs["nonlinearity"] = module.nonlinearity
    first = next(iter(module.parameters()), None)
    twin: nn.Module = twin_cls(module.input_size, module.hidden_size, **kwargs,
                    device=first.device if first is not None else None,
                    dtype=first.dtype if first is not None else None)
    ours, theirs = set(module.state_dict()), set(twin.state_dict())
    if ours != theirs:  # lstmkit's variants add parameters (peepholes, layer norm, learned initial states)
        raise _refuse(module, f"parameters {sorted(ours - theirs)}")
    twin.load_state_dict(module.state_dict())
    twin.train(module.training)
    return twin


def _swap(model: nn.Module) -> nn.Module:
    if type(model) in _TWINS:
        return to_torch(model)
    for name, child in model.named_children():
        swapped = _swap(child)
        if swapped is not child:
            setattr(model, name, swapped)
    return model


def quantize_dynamic(model: nn.Module, qconfig_spec: Any = None, dtype: torch.dtype = torch.qint8,
                     inplace: bool = False) -> nn.Module:
    """`torch.ao.quantization.quantize_dynamic` for models with lstmkit.nn layers: those become torch's
    modules with the same weights, then torch quantises them as its own. `qconfig_spec` may name
    lstmkit's classes (they stand for their torch twins); None quantises what torch's default does
    (Linear, LSTM, GRU and the three cells)."""
    if not inplace:
        model = copy.deepcopy(model)
    model = _swap(model)
    spec = _DEFAULT_SPEC if qconfig_spec is None else qconfig_spec
    if isinstance(spec, dict):
        spec = {_TWINS.get(k, k) if isinstance(k, type) else k: v for k, v in spec.items()}
    else:
        spec = {_TWINS.get(k, k) for k in spec}
    quantized: nn.Module = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
        model, spec, dtype=dtype, inplace=True)
    return quantized


class _QconfigWatch:
    """The `qconfig` attribute of lstmkit's layers: torch.ao.quantization sets it on every module it
    visits, and would then leave the layer in float without a word (exact-class matching)."""

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self
        try:
            return obj.__dict__["_qconfig"]
        except KeyError:
            raise AttributeError(f"'{owner.__name__}' object has no attribute 'qconfig'") from None

    def __set__(self, obj: Any, value: Any) -> None:
        if not obj.__dict__.get("_warned_quantization"):
            obj.__dict__["_warned_quantization"] = True
            warnings.warn(f"torch.ao.quantization leaves lstmkit.nn.{type(obj).__name__} in floating point (it "
                          f"quantises modules by their exact class); use lstmkit.nn.quantize_dynamic(model), which "
                          f"quantises it as torch.nn.{type(obj).__name__} with the same weights", UserWarning,
                          stacklevel=2)
        obj.__dict__["_qconfig"] = value

    def __delete__(self, obj: Any) -> None:
        obj.__dict__.pop("_qconfig", None)


for _cls in _TWINS:
    _cls.qconfig = _QconfigWatch()  # type: ignore[attr-defined]
