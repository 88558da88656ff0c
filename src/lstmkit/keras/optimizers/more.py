"""Keras 3's Adadelta, Adamax, Nadam, Ftrl and Lion, with Keras' defaults and update formulas (g the gradient,
t the update's number counted from 1, lr the rate of this update)."""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.keras.optimizers.base import Optimizer, _epsilon


class Adadelta(Optimizer):
    """acc_g = rho * acc_g + (1 - rho) g²; delta = -sqrt(acc_d + eps) / sqrt(acc_g + eps) * g;
    acc_d = rho * acc_d + (1 - rho) delta²; w += lr * delta."""

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.95, epsilon: float | None = 1e-7,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.rho, self.epsilon = float(rho), _epsilon(epsilon)

    def _init_state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"accumulated_grad": torch.zeros_like(p), "accumulated_delta_var": torch.zeros_like(p)}

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor], lr: float) -> None:
        acc_g, acc_d = state["accumulated_grad"], state["accumulated_delta_var"]
        acc_g.mul_(self.rho).addcmul_(g, g, value=1.0 - self.rho)
        delta = -(acc_d + self.epsilon).sqrt() * g / (acc_g + self.epsilon).sqrt()
        acc_d.mul_(self.rho).addcmul_(delta, delta, value=1.0 - self.rho)
        p.add_(delta, alpha=lr)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Adamax(Optimizer):
    """m += (g - m)(1 - b1); u = max(b2 * u, |g|); w -= lr * m / ((1 - b1^t) (u + eps))."""

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float | None = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), _epsilon(epsilon)

    def _init_state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"momentum": torch.zeros_like(p), "norm": torch.zeros_like(p)}

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor], lr: float) -> None:
        t = self.iterations + 1
        m, u = state["momentum"], state["norm"]
        m.add_((g - m) * (1 - self.beta_1))
        torch.maximum(u * self.beta_2, g.abs(), out=u)
        p.sub_(m * lr / ((1 - self.beta_1 ** t) * (u + self.epsilon)))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Nadam(Optimizer):
    """Adam with Nesterov momentum and Keras' momentum schedule mu_t = b1 (1 - 0.5 * 0.96^t):
    m += (g - m)(1 - b1); v += (g² - v)(1 - b2); with P_t = mu_1 ... mu_t,
    m_hat = mu_{t+1} m / (1 - P_t mu_{t+1}) + (1 - mu_t) g / (1 - P_t); v_hat = v / (1 - b2^t);
    w -= lr * m_hat / (sqrt(v_hat) + eps).
    Keras keeps P_t as a variable; here it is recomputed from the step count, so a reloaded optimizer has it."""

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float | None = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), _epsilon(epsilon)
        self._products = [1.0]  # P_0, P_1, ...: extended as the steps go

    def _mu(self, t: int) -> float:
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** t)

    def _product(self, t: int) -> float:
        while len(self._products) <= t:
            self._products.append(self._products[-1] * self._mu(len(self._products)))
        return self._products[t]

    def _init_state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"momentum": torch.zeros_like(p), "velocity": torch.zeros_like(p)}

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor], lr: float) -> None:
        t = self.iterations + 1
        mu_t, mu_next, product = self._mu(t), self._mu(t + 1), self._product(t)
        m, v = state["momentum"], state["velocity"]
        m.add_((g - m) * (1 - self.beta_1))
        v.add_((g * g - v) * (1 - self.beta_2))
        m_hat = m * (mu_next / (1 - product * mu_next)) + g * ((1 - mu_t) / (1 - product))
        v_hat = v / (1 - self.beta_2 ** t)
        p.sub_(m_hat * lr / (v_hat.sqrt() + self.epsilon))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Ftrl(Optimizer):
    """Follow The Regularized Leader (McMahan et al. 2013) as Keras: with p = -learning_rate_power,
    n' = n + g²; z += g + 2 * l2_shrinkage * w - (n'^p - n^p) / lr * w;
    w = (clip(z, -l1, l1) - z) / (n'^p / lr + 2 * (l2 + beta / (2 lr))); n = n'."""

    def __init__(self, learning_rate: Any = 0.001, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0, l2_shrinkage_regularization_strength: float = 0.0,
                 beta: float = 0.0, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        for name, value in (("initial_accumulator_value", initial_accumulator_value),
                            ("l1_regularization_strength", l1_regularization_strength),
                            ("l2_regularization_strength", l2_regularization_strength),
                            ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength)):
            if value < 0.0:
                raise ValueError(f"`{name}` needs to be positive or zero. Received: {name}={value}.")
        if learning_rate_power > 0.0:
            raise ValueError("`learning_rate_power` needs to be negative or zero. Received: "
                             f"learning_rate_power={learning_rate_power}.")
        self.learning_rate_power = float(learning_rate_power)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.l1_regularization_strength = float(l1_regularization_strength)
        self.l2_regularization_strength = float(l2_regularization_strength)
        self.l2_shrinkage_regularization_strength = float(l2_shrinkage_regularization_strength)
        self.beta = float(beta)

    def _init_state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"accumulator": torch.full_like(p, self.initial_accumulator_value), "linear": torch.zeros_like(p)}

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor], lr: float) -> None:
        power = -self.learning_rate_power
        n, z = state["accumulator"], state["linear"]
        l1 = self.l1_regularization_strength
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        new_n = n + g * g
        z.add_(g + 2 * self.l2_shrinkage_regularization_strength * p - (new_n.pow(power) - n.pow(power)) / lr * p)
        quadratic = new_n.pow(power) / lr + 2 * l2
        p.copy_((z.clamp(-l1, l1) - z) / quadratic)
        n.copy_(new_n)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}


class Lion(Optimizer):
    """w -= lr * sign(b1 * m + (1 - b1) g); m = b2 * m + (1 - b2) g (Chen et al. 2023)."""

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.99,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError("Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer degenerates to "
                             f"SignSGD. Received: beta_1={beta_1}.")
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)

    def _init_state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"momentum": torch.zeros_like(p)}

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor], lr: float) -> None:
        m = state["momentum"]
        p.sub_(torch.sign(m * self.beta_1 + g * (1.0 - self.beta_1)), alpha=lr)
        m.mul_(self.beta_2).add_(g, alpha=1.0 - self.beta_2)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}

