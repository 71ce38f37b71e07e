"""A fake joystick backend at the pygame.joystick boundary."""

from __future__ import annotations

import pygame


class FakeJoystick:
    def __init__(self, name: str, n_axes: int = 6, n_buttons: int = 11, n_hats: int = 1) -> None:
        self.name = name
        self.axes = [0.0] * n_axes
        self.buttons = [0] * n_buttons
        self.hats = [(0, 0)] * n_hats
        self.gone = False

    def _check(self) -> None:
        if self.gone:
            raise pygame.error("Joystick not initialized")

    def get_name(self) -> str:
        return self.name

    def get_instance_id(self) -> int:
        return 7

    def get_numaxes(self) -> int:
        return len(self.axes)

    def get_axis(self, i: int) -> float:
        self._check()
        return self.axes[i]

    def get_numbuttons(self) -> int:
        return len(self.buttons)

    def get_button(self, i: int) -> int:
        self._check()
        return self.buttons[i]

    def get_numhats(self) -> int:
        return len(self.hats)

    def get_hat(self, i: int) -> tuple[int, int]:
        self._check()
        return self.hats[i]


class FakeBackend:
    def __init__(self, *joysticks: FakeJoystick) -> None:
        self.joysticks = list(joysticks)
        self.pumps = 0

    def count(self) -> int:
        return sum(not j.gone for j in self.joysticks)

    def open(self, index: int) -> FakeJoystick:
        live = [j for j in self.joysticks if not j.gone]
        if index >= len(live):
            raise pygame.error("Invalid joystick device number")
        return live[index]

    def pump(self) -> None:
        self.pumps += 1
