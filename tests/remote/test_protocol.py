import msgpack
import numpy as np
import pytest

from teleforge.errors import ProtocolVersionError, RemoteRobotError
from teleforge.robots.remote import protocol
from teleforge.robots.tasks import ObjectState
from teleforge.robots.types import ActResult, ArraySpec, RobotState, TaskInfo


def _roundtrip(x):
    return protocol.unpack(protocol.pack({"x": x}), protocol.REPLY_LIMITS)["x"]


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "uint8", "bool"])
def test_arrays_cross_the_wire_bit_exact_with_dtype_and_shape(dtype):
    rng = np.random.default_rng(1)
    a = (rng.normal(size=(3, 4)) * 1e3).astype(dtype)
    b = _roundtrip(a)
    assert b.dtype == a.dtype and b.shape == a.shape
    assert a.tobytes() == b.tobytes()
    b[0, 0] = 0  # received arrays are writable copies, not views of the message
    assert _roundtrip(np.float64(np.pi)) == np.pi
    assert _roundtrip(np.zeros((0, 7))).shape == (0, 7)


def test_robot_records_are_rebuilt_as_the_same_types():
    st = RobotState(np.arange(7.0), np.ones(7), np.array([0.1, 0.2, 0.3]), np.array([1.0, 0, 0, 0]), 0.5, 123)
    back = _roundtrip(st)
    assert isinstance(back, RobotState) and back.t_ns == 123 and np.array_equal(back.joint_pos, st.joint_pos)
    res = _roundtrip(ActResult(np.zeros(3), np.array([1.0, 0, 0, 0]), np.ones(7), 1.0, 1e-4, True))
    assert isinstance(res, ActResult) and res.clamped and res.ik_error == 1e-4
    info = TaskInfo("pick_cube", "pick up the red cube", 3, 20.0, {"cube_colours": ["red", "blue"]})
    assert _roundtrip(info) == info
    spec = ArraySpec((7,), "float32", (-1.0,) * 7, (1.0,) * 7, tuple("abcdefg"))
    assert _roundtrip(spec) == spec  # tuple fields come back as tuples
    obj = _roundtrip({"red": ObjectState("red", np.ones(3), np.array([1.0, 0, 0, 0]), 0.04)})["red"]
    assert isinstance(obj, ObjectState) and obj.size == 0.04


def test_garbage_and_unknown_types_are_clear_errors():
    with pytest.raises(RemoteRobotError, match="unreadable"):
        protocol.unpack(b"\xc1\xc1 not msgpack")
    with pytest.raises(RemoteRobotError, match="map"):
        protocol.unpack(msgpack.packb([1, 2]))
    with pytest.raises(TypeError):
        protocol.pack({"x": object()})
    with pytest.raises(TypeError):
        protocol.pack({"x": np.array([object()])})
    forged = msgpack.ExtType(2, msgpack.packb(["os.system", {}]))
    with pytest.raises(RemoteRobotError, match="unknown record type"):
        protocol.unpack(msgpack.packb({"x": forged}), protocol.REPLY_LIMITS)
    with pytest.raises(RemoteRobotError, match="ext type 2 is not part"):  # requests never carry records
        protocol.unpack(msgpack.packb({"x": forged}))


def test_unpacking_is_bounded_in_size_length_and_nesting():
    big = msgpack.packb({"x": b"\0" * (protocol.MAX_REQUEST_BYTES + 1)})
    with pytest.raises(RemoteRobotError, match="over this side's limit"):
        protocol.unpack(big)
    with pytest.raises(RemoteRobotError, match="exceeds max_array_len"):
        protocol.unpack(msgpack.packb({"x": [0] * 100_000}))
    with pytest.raises(RemoteRobotError, match="unreadable"):
        protocol.unpack(b"\x91" * 100_000 + b"\xc0")  # 100k-deep arrays
    # an array inside a record is fine; an ext inside an array's header or a record inside a record is not
    arr = msgpack.ExtType(1, msgpack.packb(["<f8", [1], msgpack.ExtType(1, b"")]))
    with pytest.raises(RemoteRobotError, match="nested msgpack ext"):
        protocol.unpack(msgpack.packb({"x": arr}))
    inner = protocol.pack({"s": ArraySpec((1,))})
    rec = msgpack.ExtType(2, msgpack.packb(["TaskInfo", {"task": msgpack.unpackb(inner, ext_hook=msgpack.ExtType)["s"]}]))
    with pytest.raises(RemoteRobotError, match="nested msgpack ext"):
        protocol.unpack(msgpack.packb({"x": rec}), protocol.REPLY_LIMITS)


def test_version_check_names_both_versions():
    msg = protocol.request(1, "c", "ping", {})
    protocol.check_version(msg, "client")
    msg["v"] = 99
    with pytest.raises(ProtocolVersionError, match=r"99.*speaks %d" % protocol.PROTOCOL_VERSION):
        protocol.check_version(msg, "client")
