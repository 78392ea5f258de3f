from services.intake.domain import priority_for
from shared.contracts.common import Category, Priority


def test_burst_pipe_is_an_emergency() -> None:
    assert priority_for(Category.BURST_PIPE, priority_resident=False, measured_temp_c=None) is Priority.EMERGENCY


def test_cold_room_is_normal_but_priority_resident_is_urgent() -> None:
    assert priority_for(Category.COLD_ROOM, priority_resident=False, measured_temp_c=16.0) is Priority.NORMAL
    assert priority_for(Category.COLD_ROOM, priority_resident=True, measured_temp_c=16.0) is Priority.URGENT


def test_dangerously_cold_room_is_urgent_and_more_so_for_a_priority_resident() -> None:
    assert priority_for(Category.COLD_ROOM, priority_resident=False, measured_temp_c=10.0) is Priority.URGENT
    assert priority_for(Category.COLD_ROOM, priority_resident=True, measured_temp_c=10.0) is Priority.EMERGENCY


def test_outage_is_urgent() -> None:
    assert priority_for(Category.OUTAGE, priority_resident=False, measured_temp_c=None) is Priority.URGENT


def test_place_label_names_a_place_as_people_do() -> None:
    from shared.contracts.common import place_label

    assert place_label("粮库家属院", "粮库家属院1号楼", "1", "101") == "粮库家属院 · 1号楼 · 1单元 · 101室"
    assert place_label("春晖小区", "春晖小区45号楼") == "春晖小区 · 45号楼"
    # a building not named after its compound keeps its own name; units and rooms already suffixed stay as they are
    assert place_label("东方花苑", "东苑A座", "2单元", "302室") == "东方花苑 · 东苑A座 · 2单元 · 302室"
    assert place_label("东方花苑", "东方花苑") == "东方花苑 · 东方花苑"
