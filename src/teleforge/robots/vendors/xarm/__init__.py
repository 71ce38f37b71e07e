"""UFactory xArm through ``xarm-python-sdk`` (``pip install 'teleforge[xarm]'``)."""

from teleforge.robots.vendors.xarm.config import XArmConfig
from teleforge.robots.vendors.xarm.robot import XArmDriver, XArmRobot

__all__ = ["XArmConfig", "XArmDriver", "XArmRobot"]
