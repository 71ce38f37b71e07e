import mujoco
import pytest

from teleforge.errors import UnknownTaskError
from teleforge.robots.tasks import TASKS, get_task


def _place(robot, colour, xyz):
    i = robot._colours.index(colour)
    qa = robot._cube_qadr[i]
    robot.data.qpos[qa : qa + 3] = xyz
    robot.data.qpos[qa + 3 : qa + 7] = (1, 0, 0, 0)
    robot.data.qvel[:] = 0
    mujoco.mj_forward(robot.model, robot.data)


def _size(robot, colour):
    return robot.object_states()[colour].size


@pytest.mark.parametrize("task", sorted(TASKS))
def test_success_is_false_at_reset(robot, task):
    for seed in range(5):
        robot.reset(task, seed)
        assert not robot.success()


def test_pick_success_when_cube_is_lifted(robot):
    robot.reset("pick_cube", 0)
    c = robot.binding["object"]
    _place(robot, c, (0.5, 0.0, 0.10 + _size(robot, c) / 2 + 0.01))
    assert robot.success()
    _place(robot, c, (0.5, 0.0, 0.09 + _size(robot, c) / 2))
    assert not robot.success()


def test_place_in_bin_success_when_cube_rests_in_the_tote(robot):
    robot.reset("place_in_bin", 0)
    c = robot.binding["object"]
    tote = robot.object_states()["bin"].pos
    _place(robot, c, (tote[0], tote[1], 0.005 + _size(robot, c) / 2))
    assert robot.success()
    _place(robot, c, (tote[0] + 0.2, tote[1], _size(robot, c) / 2))
    assert not robot.success()


def test_push_success_requires_target_region_and_no_lift(robot):
    robot.reset("push_to_target", 0)
    c = robot.binding["object"]
    target = robot.object_states()["target_region"].pos
    _place(robot, c, (target[0] + 0.01, target[1], _size(robot, c) / 2))
    assert robot.success()
    robot._max_lift[robot._colours.index(c)] = 0.1  # it was carried there: not a push
    assert not robot.success()


def test_stack_success_when_object_rests_on_support(robot):
    robot.reset("stack", 0)
    top, base = robot.binding["object"], robot.binding["support"]
    b = robot.object_states()[base].pos
    _place(robot, top, (b[0], b[1], _size(robot, base) + _size(robot, top) / 2))
    assert robot.success()
    _place(robot, top, (b[0] + 0.06, b[1], _size(robot, top) / 2))
    assert not robot.success()


def test_every_task_has_templates_naming_its_roles():
    for task in TASKS.values():
        assert len(task.templates) >= 3 and task.time_limit_s > 0
        for t in task.templates:
            for role in task.roles:
                assert "{" + role + "}" in t


def test_get_task_unknown_name_lists_known_tasks():
    with pytest.raises(UnknownTaskError) as err:
        get_task("fold_laundry")
    for name in TASKS:
        assert name in str(err.value)
