"""Universal Robots through ``ur_rtde`` (``pip install 'teleforge[ur]'``)."""

from teleforge.robots.vendors.ur.config import URConfig
from teleforge.robots.vendors.ur.robot import URDriver, URRobot

__all__ = ["URConfig", "URDriver", "URRobot"]
