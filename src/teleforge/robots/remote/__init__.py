"""A robot over the network: ``RobotServer`` serves any ``Robot`` on ZeroMQ, ``RemoteRobot`` drives it.

    server = RobotServer(SimRobot(), port=5555).start()      # or: teleforge serve-robot --sim
    robot = RemoteRobot("tcp://127.0.0.1:5555"); robot.connect()

Binds to loopback by default; beyond it the server requires a token. The server
runs its own watchdog, so a client that stops talking leaves the arm holding.
"""

from teleforge.robots.remote.client import LatencyStats, RemoteRobot
from teleforge.robots.remote.protocol import DEFAULT_PORT, PROTOCOL_VERSION
from teleforge.robots.remote.server import RobotServer, ServerStats, is_loopback
from teleforge.robots.remote.serving import serve_until_stopped

__all__ = ["DEFAULT_PORT", "PROTOCOL_VERSION", "LatencyStats", "RemoteRobot", "RobotServer", "ServerStats", "is_loopback",
           "serve_until_stopped"]
