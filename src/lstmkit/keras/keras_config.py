"""Keras 3's config.json schema, both ways, for `lstmkit.keras.keras_format` and `h5_format`.

Writing: lstmkit.keras' {"class_name", "config"} with every object as Keras serializes it ({"module",
"class_name", "config", "registered_name"}), a "build_config" per layer, a functional graph as Keras' layers
with "inbound_nodes" and "keras_history" [layer, call, tensor]; lstmkit-only options (LSTMKIT_ONLY) are taken
out, to travel in metadata.json. Reading: the reverse, checking every class against lstmkit.keras' own and the
registered ones, dropping Keras' options that lstmkit's layers lack while they are off, and leaving out the
op layers Keras records for masks. Never runs code: a Lambda's bytecode only with `safe_mode=False`.
"""

from __future__ import annotations

import base64
import builtins
import inspect
import marshal
import types
from typing import Any

from lstmkit.errors import FileFormatError
from lstmkit.keras.layers.layer import LAYER_CLASSES, Layer
from lstmkit.keras.registry import get_registered_object

CONFIG = "config.json"
LSTMKIT_ONLY = ("backend",)  # layer options of lstmkit's own: Keras' layers refuse them as arguments
# Keys of Keras' initializer, regularizer and constraint configs that lstmkit's do not take, at the value that
# means "not used" (... for any value); another value is refused.
_KERAS_ONLY = {"input_axes": None, "output_axes": None, "shared_object_id": ...}
# A Keras layer option that lstmkit's class does not take is dropped when it is off: None, False, or these
# values (BatchNormalization's renorm_momentum matters only with renorm=True). Any other value is passed on,
# and the lstmkit class refuses it by name.
_INACTIVE = {"renorm_momentum": 0.99, "shared_object_id": ...}
_MODULES = {"initializer": "keras.initializers", "regularizer": "keras.regularizers",
            "constraint": "keras.constraints"}
_LAYER_KEYS = ("layer", "backward_layer", "cell", "layers", "cells")

# ----- configs: lstmkit -> Keras ----------------------------------------------------------------
def _keras_object(spec: dict[str, Any], module: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"module": module, "class_name": spec["class_name"], "config": config,
            "registered_name": spec.get("registered_name")}


def _to_keras_value(key: str, value: Any, path: str, options: dict[str, dict[str, Any]]) -> Any:
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        if key in _LAYER_KEYS:
            return _to_keras_layer(value, f"{path}/{key}", options)
        module = next((m for suffix, m in _MODULES.items() if key.endswith(suffix)), "keras")
        return _keras_object(value, module, dict(value["config"]))
    if isinstance(value, list) and key in _LAYER_KEYS:
        return [_to_keras_layer(v, f"{path}/{key}", options) for v in value]
    return value


def _to_keras_layer(spec: dict[str, Any], path: str, options: dict[str, dict[str, Any]],
                    layer: Layer | None = None) -> dict[str, Any]:
    """One layer's {"class_name", "config"} in Keras' schema; lstmkit-only options go to `options[path]`."""
    config: dict[str, Any] = {}
    for key, value in spec["config"].items():
        if key in LSTMKIT_ONLY:
            options.setdefault(path, {})[key] = value
            continue
        if key == "batch_input_shape":  # Keras 3 takes the input shape from an InputLayer (added by the caller)
            continue
        config[key] = _to_keras_value(key, value, path, options)
    module = "keras.layers"
    if spec["class_name"] == "Sequential":
        module = "keras"
    elif spec["class_name"] == "Functional":
        module = "keras.src.models.functional"
    out = _keras_object(spec, module, config)
    shape = getattr(layer, "_build_shape", None) if layer is not None else None
    if shape is not None:
        out["build_config"] = {"input_shape": _json_shape(shape)}
    return out


def _json_shape(shape: Any) -> Any:
    return [_json_shape(s) for s in shape] if isinstance(shape, list) else list(shape)


def is_model_class(model: Any, module: str, name: str) -> bool:
    """Whether `model` is an lstmkit.keras Sequential or Functional (by class identity in its MRO, not by
    import: the model modules import the saving code that imports this one)."""
    return any(c.__name__ == name and c.__module__ == f"lstmkit.keras.models.{module}" for c in type(model).__mro__)


def keras_model_config(model: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The model's config.json in Keras 3's schema, and the lstmkit-only options by layer path."""
    options: dict[str, dict[str, Any]] = {}
    cfg = model.get_config()
    by_name = {layer.name: layer for layer in model.layers}
    config: dict[str, Any] = {k: v for k, v in cfg.items() if k not in ("layers", "nodes", "inputs", "outputs")}
    if is_model_class(model, "sequential", "Sequential"):
        layers = []
        for i, spec in enumerate(cfg["layers"]):
            batch_shape = spec["config"].get("batch_input_shape")
            if i == 0 and batch_shape is not None and spec["class_name"] != "InputLayer":
                layers.append({"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                               "config": {"batch_shape": list(batch_shape), "dtype": "float32",
                                          "name": f"{spec['config']['name']}_input"}})
            layers.append(_to_keras_layer(spec, spec["config"]["name"], options, by_name.get(spec["config"]["name"])))
        config["layers"] = layers
        if config.get("build_input_shape") is None and getattr(model, "_build_shape", None) is not None:
            config["build_input_shape"] = _json_shape(model._build_shape)
        out = {"module": "keras", "class_name": "Sequential", "config": config, "registered_name": None}
        if config.get("build_input_shape") is not None:
            out["build_config"] = {"input_shape": config["build_input_shape"]}
        return out, options
    if not is_model_class(model, "functional", "Functional"):
        raise ValueError(f"only Sequential and functional models can be written in Keras' format, got "
                         f"{type(model).__name__}")
    nodes = [t.node for t in model._input_tensors] + list(model._nodes)
    seen: dict[str, int] = {}
    history = []  # node index -> (layer name, the node's index among that layer's calls)
    for node in nodes:
        history.append((node.layer.name, seen.get(node.layer.name, 0)))
        seen[node.layer.name] = seen.get(node.layer.name, 0) + 1

    def tensor(ref: Any) -> Any:
        if isinstance(ref, dict) and set(ref) == {"__keras_tensor__"}:
            n, i = ref["__keras_tensor__"]
            outputs = nodes[n].outputs
            t = outputs[i] if isinstance(outputs, (list, tuple)) else outputs
            name, k = history[n]
            return {"class_name": "__keras_tensor__", "config": {"shape": list(t.shape), "dtype": t.dtype,
                                                                  "keras_history": [name, k, i]}}
        if isinstance(ref, list):
            return [tensor(r) for r in ref]
        if isinstance(ref, dict):
            return {k: tensor(v) for k, v in ref.items()}
        return ref

    layers = []
    for spec in cfg["layers"]:
        name = spec["config"]["name"]
        entry = _to_keras_layer(spec, name, options, by_name.get(name))
        if spec["class_name"] == "InputLayer":
            entry.pop("build_config", None)
        entry["name"] = name
        calls = [] if spec["class_name"] == "InputLayer" else [n for n in cfg["nodes"] if n["layer"] == name]
        entry["inbound_nodes"] = [{"args": tensor(n["args"]), "kwargs": tensor(n["kwargs"])} for n in calls]
        layers.append(entry)
    config["layers"] = layers

    def endpoints(structure: Any) -> Any:
        if isinstance(structure, dict) and set(structure) == {"__keras_tensor__"}:
            n, i = structure["__keras_tensor__"]
            return [history[n][0], history[n][1], i]
        return [endpoints(s) for s in structure]

    config["input_layers"] = endpoints(cfg["inputs"])
    config["output_layers"] = endpoints(cfg["outputs"])
    return {"module": "keras.src.models.functional", "class_name": "Functional", "config": config,
            "registered_name": "Functional"}, options


def keras_compile_config(model: Any) -> dict[str, Any] | None:
    if not getattr(model, "compiled", False):
        return None
    cc = model._compile_config
    opt = cc["optimizer"]

    def keras_form(spec: Any, module: str) -> Any:  # a config, or a list of them (one per output of a model)
        if isinstance(spec, list):
            return [keras_form(s, module) for s in spec]
        return spec if not isinstance(spec, dict) else _keras_object(spec, module, spec["config"])

    return {
        "optimizer": {"module": "keras.optimizers", "class_name": opt["class_name"], "config": opt["config"],
                      "registered_name": None},
        "loss": keras_form(cc.get("loss"), "keras.losses"),
        "loss_weights": cc.get("loss_weights"),
        "metrics": keras_form(cc.get("metrics") or [], "keras.metrics") or None,
        "weighted_metrics": keras_form(cc.get("weighted_metrics") or [], "keras.metrics") or None,
        "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False,
    }


# ----- configs: Keras -> lstmkit ----------------------------------------------------------------
class _Reader:
    """Turns a Keras 3 config into lstmkit.keras' {"class_name", "config"} form, checking every class."""

    def __init__(self, where: str, safe_mode: bool) -> None:
        self.where, self.safe_mode = where, safe_mode

    def fail(self, layer: str, what: str) -> FileFormatError:
        return FileFormatError(self.where, f"layer {layer!r}: {what}")

    def value(self, key: str, value: Any, layer: str) -> Any:
        if isinstance(value, dict) and "class_name" in value and "config" in value:
            if key in _LAYER_KEYS:
                return self.layer(value)
            if value["class_name"] in ("DTypePolicy", "FloatDTypePolicy"):
                return value["config"]["name"]
            inner = {}
            for k, v in (value["config"] or {}).items():
                if k in _KERAS_ONLY:
                    if _KERAS_ONLY[k] is not ... and v != _KERAS_ONLY[k]:
                        raise self.fail(layer, f"{value['class_name']} option {k}={v!r} has no lstmkit "
                                               f"equivalent (only {_KERAS_ONLY[k]!r} can be read)")
                    continue
                inner[k] = self.value(k, v, layer)
            out = {"class_name": value["class_name"], "config": inner}
            if value.get("registered_name") not in (None, value["class_name"]):
                out["registered_name"] = value["registered_name"]
            return out
        if isinstance(value, list) and key in _LAYER_KEYS:
            return [self.layer(v) for v in value]
        return value

    def layer(self, spec: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(spec, dict) or "class_name" not in spec or not isinstance(spec.get("config"), dict):
            raise FileFormatError(self.where, f"a layer entry of its {CONFIG} is not a Keras object "
                                              f"(class_name + config): {str(spec)[:200]}")
        cls, raw = spec["class_name"], spec["config"]
        name = raw.get("name", cls)
        if cls == "Lambda":
            return self.lambda_layer(raw, name)
        found = any(isinstance(k, str) and get_registered_object(k) is not None
                    for k in (spec.get("registered_name"), cls))
        if not found and cls not in LAYER_CLASSES:
            raise self.fail(name, f"class {cls!r} (module {spec.get('module')!r}) is not an lstmkit.keras layer; "
                                  "pass it in custom_objects or register it with register_keras_serializable")
        accepted = _init_arguments(LAYER_CLASSES[cls]) if not found else None
        config: dict[str, Any] = {}
        for key, value in raw.items():
            if accepted is not None and key not in accepted and (
                    value is None or value is False or _INACTIVE.get(key, object()) in (..., value)):
                continue  # a Keras option lstmkit's layer lacks, switched off
            if cls in ("Sequential", "Functional") and key in ("layers", "input_layers", "output_layers"):
                continue
            config[key] = self.value(key, value, name)
        if cls == "Sequential":
            config["layers"] = [self.layer(v) for v in raw.get("layers", [])]
        if cls == "Functional":
            config.update(self.functional(raw))
        out = {"class_name": cls, "config": config}
        if spec.get("registered_name") not in (None, cls):
            out["registered_name"] = spec["registered_name"]
        return out

    def lambda_layer(self, raw: dict[str, Any], name: str) -> dict[str, Any]:
        if self.safe_mode:
            raise self.fail(name, "a Lambda layer holds Python bytecode, which loading would run; refused in "
                                  "safe mode (pass safe_mode=False only for a file you trust, as in Keras)")
        fn = raw.get("function")
        if not (isinstance(fn, dict) and fn.get("class_name") == "__lambda__"):
            raise self.fail(name, f"a Lambda whose function is {str(fn)[:80]} (only Keras' serialized lambdas "
                                  "can be read)")
        code = marshal.loads(base64.b64decode(fn["config"]["code"]))
        defaults = fn["config"].get("defaults")
        function = types.FunctionType(code, {"__builtins__": builtins}, name=name,
                                      argdefs=tuple(defaults) if defaults else None)
        return {"_object": ("Lambda", {"function": function, "arguments": raw.get("arguments") or {},
                                       "name": name})}

    def functional(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Keras' layers-with-inbound-nodes graph as lstmkit's node list. Keras records the masks it
        computed as extra op layers (NotEqual, LogicalOr, ...) passed as `mask=`; lstmkit propagates masks
        itself, so those kwargs go and the nodes only they used are left out."""
        specs = {s.get("name") or s["config"].get("name"): s for s in raw["layers"]}

        def refs(value: Any, out: list) -> None:
            if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
                out.append(tuple(value["config"]["keras_history"]))
            elif isinstance(value, dict):
                for v in value.values():
                    refs(v, out)
            elif isinstance(value, list):
                for v in value:
                    refs(v, out)

        def node_data(name: str, k: int) -> tuple[list, dict]:
            spec = specs.get(name)
            if spec is None:
                raise FileFormatError(self.where, f"its graph refers to a layer {name!r} it does not list")
            nodes = spec.get("inbound_nodes") or []
            if spec["class_name"] == "InputLayer":
                return [], {}
            if k >= len(nodes):
                raise self.fail(name, f"its graph uses call {k} of the layer, which has {len(nodes)}")
            node = nodes[k]
            if isinstance(node, list):  # Keras 2: [[layer, node index, tensor index, kwargs], ...]
                tensors = [{"class_name": "__keras_tensor__", "config": {"keras_history": list(r[:3])}}
                           for r in node]
                kwargs = dict(node[0][3]) if node and len(node[0]) > 3 else {}
                args: list = [tensors[0] if len(tensors) == 1 else tensors]
            else:
                args, kwargs = node.get("args") or [], dict(node.get("kwargs") or {})
            return args, {key: v for key, v in kwargs.items() if key not in ("mask", "training")}

        order: list[tuple[str, int]] = []
        index: dict[tuple[str, int], int] = {}

        def visit(name: str, k: int) -> None:
            if (name, k) in index:
                return
            args, kwargs = node_data(name, k)
            deps: list = []
            refs([args, kwargs], deps)
            for dep_name, dep_k, _ in deps:
                visit(dep_name, dep_k)
            index[(name, k)] = len(order)
            order.append((name, k))

        def endpoints(value: Any) -> list[list]:
            return [value] if value and isinstance(value[0], str) else list(value)

        inputs, outputs = endpoints(raw["input_layers"]), endpoints(raw["output_layers"])
        for name, k, _ in inputs:
            visit(name, k)
        for name, k, _ in outputs:
            visit(name, k)

        def convert(value: Any) -> Any:
            if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
                name, k, i = value["config"]["keras_history"]
                return {"__keras_tensor__": [index[(name, k)], i]}
            if isinstance(value, dict):
                return {key: convert(v) for key, v in value.items()}
            if isinstance(value, list):
                return [convert(v) for v in value]
            return value

        used = sorted({name for name, _ in order}, key=lambda n: list(specs).index(n))
        nodes = []
        for name, k in order:
            args, kwargs = node_data(name, k)
            nodes.append({"layer": name, "args": convert(args), "kwargs": convert(kwargs)})

        def structure(points: list[list]) -> Any:  # one tensor bare, as Keras 3 makes a one-element list
            refs_ = [{"__keras_tensor__": [index[(n, k)], i]} for n, k, i in points]
            return refs_[0] if len(refs_) == 1 else refs_

        return {"layers": [self.layer(specs[n]) for n in used], "nodes": nodes,
                "inputs": structure(inputs), "outputs": structure(outputs)}


def _init_arguments(cls: type) -> set[str]:
    """The named arguments of `cls.__init__` and of its bases' (those **kwargs reach)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None and klass is not object:
            names |= {p.name for p in inspect.signature(init).parameters.values()
                      if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return names


def build_from_keras_config(config: dict[str, Any], where: str, safe_mode: bool) -> Any:
    """An lstmkit.keras model from a Keras 3 config.json (already parsed)."""
    from lstmkit.keras.layers.core import Lambda
    from lstmkit.keras.layers.wrappers import layer_from_config

    spec = _Reader(where, safe_mode).layer(config)
    objects: list[Any] = []

    def place(value: Any) -> Any:  # Lambdas read with safe_mode=False are made here, not from a config
        if isinstance(value, dict) and set(value) == {"_object"}:
            _, kwargs = value["_object"]
            objects.append(Lambda(**kwargs))
            return {"class_name": "_Placed", "config": {"index": len(objects) - 1}}
        if isinstance(value, dict):
            return {k: place(v) for k, v in value.items()}
        if isinstance(value, list):
            return [place(v) for v in value]
        return value

    spec = place(spec)
    if objects:
        from lstmkit.keras.registry import custom_object_scope

        class _Placed:
            @classmethod
            def from_config(cls, config: dict[str, Any]) -> Any:
                return objects[config["index"]]

        with custom_object_scope({"_Placed": _Placed}):
            return _build(layer_from_config, spec, where)
    return _build(layer_from_config, spec, where)


def _build(layer_from_config: Any, spec: dict[str, Any], where: str) -> Any:
    try:
        return layer_from_config(spec)
    except (ValueError, KeyError, TypeError) as e:
        raise FileFormatError(where, f"its {CONFIG} does not describe an lstmkit.keras model "
                                     f"({type(e).__name__}: {e})") from e
