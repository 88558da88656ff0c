"""Keras 3's SGD, RMSprop, Adam, AdamW and Adagrad (see base.py for what they share and how they differ from
torch.optim)."""

from __future__ import annotations

import math
from typing import Any

import torch

from lstmkit.keras.optimizers.base import Optimizer, _epsilon


class SGD(Optimizer):
    """v = momentum * v - lr * g; w += v (nesterov: w += momentum * v - lr * g); without momentum w -= lr * g."""

    def __init__(self, learning_rate: Any = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1], got {momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _init_state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"momentum": torch.zeros_like(p)} if self.momentum else {}

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor], lr: float) -> None:
        if not self.momentum:
            p.sub_(g, alpha=lr)
            return
        m = state["momentum"]
        m.mul_(self.momentum).sub_(g, alpha=lr)
        if self.nesterov:
            p.add_(m * self.momentum - g * lr)
        else:
            p.add_(m)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """v = rho * v + (1 - rho) * g²; w -= lr * g / sqrt(v + eps) (centered: v - mean(g)² + eps)."""

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float | None = 1e-7, centered: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = float(rho), float(momentum), _epsilon(epsilon), centered

    def _init_state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        state = {"velocity": torch.zeros_like(p)}
        if self.momentum:
            state["momentum"] = torch.zeros_like(p)
        if self.centered:
            state["average_gradient"] = torch.zeros_like(p)
        return state

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor], lr: float) -> None:
        v = state["velocity"]
        v.mul_(self.rho).addcmul_(g, g, value=1.0 - self.rho)
        if self.centered:
            a = state["average_gradient"]
            a.mul_(self.rho).add_(g, alpha=1.0 - self.rho)
            denominator = v - a.square() + self.epsilon
        else:
            denominator = v + self.epsilon
        increment = g.mul(lr).div_(denominator.sqrt_())
        if self.momentum:
            m = state["momentum"]
            m.mul_(self.momentum).add_(increment)
            p.sub_(m)
        else:
            p.sub_(increment)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adam(Optimizer):
    """m += (g - m)(1 - b1); v += (g² - v)(1 - b2); w -= m * lr * sqrt(1 - b2^t) / (1 - b1^t) / (sqrt(v) + eps)."""

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float | None = 1e-7, amsgrad: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = float(beta_1), float(beta_2), _epsilon(epsilon), amsgrad

    def _init_state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        state = {"momentum": torch.zeros_like(p), "velocity": torch.zeros_like(p)}
        if self.amsgrad:
            state["velocity_hat"] = torch.zeros_like(p)
        return state

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor], lr: float) -> None:
        t = self.iterations + 1
        alpha = lr * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        m, v = state["momentum"], state["velocity"]
        m.add_((g - m) * (1 - self.beta_1))
        v.add_((g * g - v) * (1 - self.beta_2))
        if self.amsgrad:
            v_hat = state["velocity_hat"]
            torch.maximum(v_hat, v, out=v_hat)
            v = v_hat
        p.sub_(m * alpha / (v.sqrt() + self.epsilon))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with Keras' default decoupled weight decay 0.004."""

    def __init__(self, learning_rate: Any = 0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float | None = 1e-7, amsgrad: bool = False, **kwargs: Any) -> None:
        if weight_decay is None:
            raise ValueError("AdamW needs a weight_decay (Keras' default is 0.004)")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **kwargs)


class Adagrad(Optimizer):
    """acc += g²; w -= lr * g / sqrt(acc + eps), acc starting at initial_accumulator_value (0.1)."""

    def __init__(self, learning_rate: Any = 0.001, initial_accumulator_value: float = 0.1, epsilon: float | None = 1e-7,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = float(initial_accumulator_value), _epsilon(epsilon)

    def _init_state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"accumulator": torch.full_like(p, self.initial_accumulator_value)}

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor], lr: float) -> None:
        acc = state["accumulator"]
        acc.addcmul_(g, g)
        p.sub_(g * lr / (acc + self.epsilon).sqrt())

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


